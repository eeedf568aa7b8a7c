//! Reading settings the way redis-server does: the configuration file named first on the command
//! line (or `-` for stdin), its `include`s, then `--name value ...` options applied last, so an
//! option overrides the file. Every source goes through the same directive table.

use std::io::Read;
use std::path::{Path, PathBuf};

use slotkv_engine::glob::glob_match;

use super::directives::{self, os_reason, BAD_DIRECTIVE, NOT_UTF8};
use super::{ConfigError, Settings};
use crate::exposure::{CommandNames, RENAMES_MAX};

/// Largest configuration file (or stdin) read; real ones are a few kilobytes.
const FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Deepest chain of includes, which also stops a file that includes itself.
const INCLUDE_DEPTH_MAX: usize = 16;
/// Most `user` lines a configuration may hold (a bound on what start-up keeps).
const USER_LINES_MAX: usize = 100_000;
/// Most files read in all, so a fan of includes cannot multiply without end.
const FILES_MAX: usize = 1024;
const UNBALANCED_QUOTES: &str = "Unbalanced quotes in configuration line";

/// What the command line asks for.
// Built once at start-up and consumed at once: boxing the settings would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Run with these settings; `config_file` is the absolute path of the file read, if any.
    Run {
        settings: Settings,
        config_file: Option<PathBuf>,
    },
    /// `--version` / `-v`.
    Version,
    /// `--help` / `-h`.
    Help,
}

/// Reads the command line (without the program name) as redis-server does:
/// `[configfile|-] [--name value ...] [-]`. The file comes first, then stdin, then the options.
pub fn parse_invocation(args: &[String]) -> Result<Invocation, ConfigError> {
    parse_invocation_with_stdin(args, &mut std::io::stdin().lock())
}

/// [`parse_invocation`] reading `-` from `stdin`.
pub(super) fn parse_invocation_with_stdin(
    args: &[String],
    stdin: &mut dyn Read,
) -> Result<Invocation, ConfigError> {
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => return Ok(Invocation::Version),
        Some("-h" | "--help") => return Ok(Invocation::Help),
        _ => {}
    }
    let command_line = CommandLine::parse(args)?;
    let mut settings = Settings::default();
    let mut loader = Loader {
        settings: &mut settings,
        files_read: 0,
        save_seen: false,
    };
    let config_file = match command_line.config_file {
        Some(path) => {
            let path = std::path::absolute(path)
                .map_err(|error| ConfigError::open(PathBuf::from(path), os_reason(&error)))?;
            loader.load_file(&path, 0)?;
            Some(path)
        }
        None => None,
    };
    if command_line.read_stdin {
        let text = read_limited(stdin).map_err(|reason| ConfigError::open("-".into(), reason))?;
        loader.load_text(&text, None, 0)?;
    }
    for option in &command_line.options {
        loader.apply_option(option)?;
    }
    Ok(Invocation::Run {
        settings,
        config_file,
    })
}

/// The command line, sorted into its parts.
#[derive(Debug, Default)]
struct CommandLine<'a> {
    config_file: Option<&'a str>,
    read_stdin: bool,
    options: Vec<CommandLineOption<'a>>,
}

/// `--name value ...`: one configuration line given on the command line.
#[derive(Debug)]
struct CommandLineOption<'a> {
    /// The argument as typed, for error messages.
    arg: &'a str,
    name: Vec<u8>,
    values: Vec<Vec<u8>>,
}

impl<'a> CommandLine<'a> {
    /// Sorts the arguments as redis-server does: a first argument not starting with `-` is the
    /// file; `-` first or last reads stdin; `--name` starts an option and the arguments after
    /// it are its values. The argument right after a bare `--name` is always a value, even if
    /// it starts with `--`. `--name value` in one argument is split like a configuration line.
    fn parse(args: &'a [String]) -> Result<CommandLine<'a>, ConfigError> {
        let mut command_line = CommandLine::default();
        let mut rest = args;
        if let Some((first, after)) = args.split_first() {
            if !first.starts_with('-') {
                command_line.config_file = Some(first.as_str());
                rest = after;
            }
        }
        let mut awaiting_value = false;
        for (index, arg) in rest.iter().enumerate() {
            let is_first_or_last =
                index + 1 == rest.len() || (index == 0 && command_line.config_file.is_none());
            if arg == "-" && is_first_or_last {
                command_line.read_stdin = true;
            } else if let (Some(text), false) = (arg.strip_prefix("--"), awaiting_value) {
                let mut words = split_args(text.as_bytes())
                    .ok_or_else(|| {
                        ConfigError::command_line(arg, arg.clone(), UNBALANCED_QUOTES.to_owned())
                    })?
                    .into_iter();
                let name = words.next().unwrap_or_default();
                let values: Vec<Vec<u8>> = words.collect();
                awaiting_value = values.is_empty();
                command_line
                    .options
                    .push(CommandLineOption { arg, name, values });
            } else {
                let Some(option) = command_line.options.last_mut() else {
                    return Err(ConfigError::command_line(
                        arg,
                        quoted(arg.as_bytes()),
                        BAD_DIRECTIVE.to_owned(),
                    ));
                };
                option.values.push(arg.as_bytes().to_vec());
                awaiting_value = false;
            }
        }
        Ok(command_line)
    }
}

/// Applies configuration text to the settings, following includes.
struct Loader<'s> {
    settings: &'s mut Settings,
    files_read: usize,
    /// Whether a `save` line was applied: the first replaces the default save points, later
    /// ones add theirs, as Redis reads `save 900 1` / `save 300 10` on separate lines.
    save_seen: bool,
}

/// Why a line failed: its own reason, or an error already placed in an included file.
enum LineFailure {
    Reason(String),
    Included(ConfigError),
}

impl Loader<'_> {
    /// Reads the file at `path`, `depth` includes deep (0 for the main file).
    fn load_file(&mut self, path: &Path, depth: usize) -> Result<(), ConfigError> {
        self.files_read += 1;
        let text = std::fs::File::open(path)
            .map_err(|error| os_reason(&error))
            .and_then(|mut file| read_limited(&mut file))
            .map_err(|reason| ConfigError::open(path.to_owned(), reason))?;
        let shown_name = (depth > 0).then(|| path.to_owned());
        self.load_text(&text, shown_name, depth)
    }

    /// Applies each line of `text`: `#` starts a comment line, blank lines are skipped.
    fn load_text(
        &mut self,
        text: &[u8],
        file: Option<PathBuf>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        for (index, raw_line) in text.split(|&b| b == b'\n').enumerate() {
            let line = raw_line.trim_ascii();
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            let at_line = |reason: String| ConfigError::line(file.clone(), index + 1, line, reason);
            let words = split_args(line).ok_or_else(|| at_line(UNBALANCED_QUOTES.to_owned()))?;
            let Some((name, values)) = words.split_first() else {
                continue;
            };
            self.apply(name, values, depth)
                .map_err(|failure| match failure {
                    LineFailure::Reason(reason) => at_line(reason),
                    LineFailure::Included(error) => error,
                })?;
        }
        Ok(())
    }

    fn apply_option(&mut self, option: &CommandLineOption<'_>) -> Result<(), ConfigError> {
        self.apply(&option.name, &option.values, 0)
            .map_err(|failure| match failure {
                LineFailure::Reason(reason) => {
                    let mut text = String::from_utf8_lossy(&option.name).into_owned();
                    for value in &option.values {
                        text.push(' ');
                        text.push_str(&quoted(value));
                    }
                    ConfigError::command_line(option.arg, text, reason)
                }
                LineFailure::Included(error) => error,
            })
    }

    /// Applies one directive line, reading the files an `include` names.
    fn apply(&mut self, name: &[u8], values: &[Vec<u8>], depth: usize) -> Result<(), LineFailure> {
        if name.eq_ignore_ascii_case(b"include") {
            let [pattern] = values else {
                return Err(LineFailure::Reason(BAD_DIRECTIVE.to_owned()));
            };
            return self.include(pattern, depth);
        }
        if name.eq_ignore_ascii_case(b"user") {
            return self.add_user(values);
        }
        if name.eq_ignore_ascii_case(b"rename-command") {
            return self.rename_command(values);
        }
        let values: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let is_save = name.eq_ignore_ascii_case(b"save");
        let earlier_points = if is_save && self.save_seen {
            self.settings.save_points.clone()
        } else {
            Vec::new()
        };
        directives::apply_line(self.settings, name, &values).map_err(LineFailure::Reason)?;
        if is_save {
            self.save_seen = true;
            // `save ""` clears every point, earlier lines' included.
            if !self.settings.save_points.is_empty() {
                let added = std::mem::replace(&mut self.settings.save_points, earlier_points);
                self.settings.save_points.extend(added);
            }
        }
        Ok(())
    }

    /// `user <name> [rule ...]`: kept for the ACL to apply at start-up (it is no setting of
    /// its own: CONFIG GET does not list it, as in Redis).
    fn add_user(&mut self, values: &[Vec<u8>]) -> Result<(), LineFailure> {
        if values.is_empty() {
            return Err(LineFailure::Reason(BAD_DIRECTIVE.to_owned()));
        }
        if self.settings.users.len() >= USER_LINES_MAX {
            return Err(LineFailure::Reason("too many user lines".to_owned()));
        }
        self.settings.users.push(values.to_vec());
        Ok(())
    }

    /// `rename-command <from> <to>`: checked against the names left by the lines before it,
    /// with Redis's errors, and kept for the server to apply.
    fn rename_command(&mut self, values: &[Vec<u8>]) -> Result<(), LineFailure> {
        let [from, to] = values else {
            return Err(LineFailure::Reason(BAD_DIRECTIVE.to_owned()));
        };
        let renames = &mut self.settings.renamed_commands;
        if renames.len() >= RENAMES_MAX {
            return Err(LineFailure::Reason(
                "too many rename-command lines".to_owned(),
            ));
        }
        renames.push((from.clone(), to.clone()));
        if let Err(reason) = CommandNames::from_renames(renames) {
            renames.pop();
            return Err(LineFailure::Reason(reason.to_owned()));
        }
        Ok(())
    }

    /// Reads the file `pattern` names, or every file its glob matches, in name order.
    fn include(&mut self, pattern: &[u8], depth: usize) -> Result<(), LineFailure> {
        if depth >= INCLUDE_DEPTH_MAX {
            return Err(LineFailure::Reason(format!(
                "includes nested more than {INCLUDE_DEPTH_MAX} deep (does a file include itself?)"
            )));
        }
        let pattern =
            std::str::from_utf8(pattern).map_err(|_| LineFailure::Reason(NOT_UTF8.to_owned()))?;
        for path in include_paths(pattern).map_err(LineFailure::Reason)? {
            if self.files_read >= FILES_MAX {
                return Err(LineFailure::Reason(format!(
                    "more than {FILES_MAX} configuration files included"
                )));
            }
            self.load_file(&path, depth + 1)
                .map_err(LineFailure::Included)?;
        }
        Ok(())
    }
}

/// The files an `include` argument names: itself, or, when its file name has glob characters,
/// the matching files of its directory (none is not an error, as with Redis's glob). Hidden
/// files match only a pattern starting with `.`, as glob(3) has it. Wildcards in directory
/// names are not supported. Relative paths start from the working directory, as in Redis.
fn include_paths(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let has_glob = |text: &str| text.contains(['*', '?', '[']);
    if !has_glob(pattern) {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let path = Path::new(pattern);
    let (Some(file_pattern), parent) = (path.file_name().and_then(|n| n.to_str()), path.parent())
    else {
        return Err(format!("cannot expand the include pattern '{pattern}'"));
    };
    let directory = match parent {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if has_glob(&directory.to_string_lossy()) {
        return Err(format!(
            "wildcards are only supported in the file name of an include: '{pattern}'"
        ));
    }
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.as_encoded_bytes();
            (file_pattern.starts_with('.') || !name.starts_with(b"."))
                && glob_match(file_pattern.as_bytes(), name, false)
        })
        .map(|entry| directory.join(entry.file_name()))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Reads all of `source`, refusing more than [`FILE_BYTES_MAX`].
fn read_limited(source: &mut dyn Read) -> Result<Vec<u8>, String> {
    let mut text = Vec::new();
    source
        .take(FILE_BYTES_MAX + 1)
        .read_to_end(&mut text)
        .map_err(|error| os_reason(&error))?;
    if text.len() as u64 > FILE_BYTES_MAX {
        return Err(format!("larger than {FILE_BYTES_MAX} bytes"));
    }
    Ok(text)
}

/// Splits a configuration line into words as Redis does: spaces separate words; a word may
/// contain "double quoted" parts with C escapes (`\n`, `\r`, `\t`, `\b`, `\a`, `\xHH`, `\"`)
/// and 'single quoted' parts where only `\'` is an escape; a closing quote must end the word.
/// `None` when quotes are unbalanced.
pub(super) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut rest = line.trim_ascii_start();
    while !rest.is_empty() {
        let mut word = Vec::new();
        rest = take_word(rest, &mut word)?.trim_ascii_start();
        words.push(word);
    }
    Some(words)
}

/// Moves one word from the start of `input` into `word`; returns what follows it.
fn take_word<'a>(mut input: &'a [u8], word: &mut Vec<u8>) -> Option<&'a [u8]> {
    loop {
        match input {
            [] => return Some(input),
            [c, ..] if c.is_ascii_whitespace() => return Some(input),
            [b'"', rest @ ..] => input = take_double_quoted(rest, word)?,
            [b'\'', rest @ ..] => input = take_single_quoted(rest, word)?,
            [c, rest @ ..] => {
                word.push(*c);
                input = rest;
            }
        }
    }
}

fn take_double_quoted<'a>(mut input: &'a [u8], word: &mut Vec<u8>) -> Option<&'a [u8]> {
    loop {
        match input {
            [] => return None,
            [b'\\', b'x', high, low, rest @ ..]
                if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
            {
                word.push(hex_value(*high) << 4 | hex_value(*low));
                input = rest;
            }
            [b'\\', escaped, rest @ ..] => {
                word.push(match escaped {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => *other,
                });
                input = rest;
            }
            [b'"', rest @ ..] => return quote_closes_word(rest),
            [c, rest @ ..] => {
                word.push(*c);
                input = rest;
            }
        }
    }
}

fn take_single_quoted<'a>(mut input: &'a [u8], word: &mut Vec<u8>) -> Option<&'a [u8]> {
    loop {
        match input {
            [] => return None,
            [b'\\', b'\'', rest @ ..] => {
                word.push(b'\'');
                input = rest;
            }
            [b'\'', rest @ ..] => return quote_closes_word(rest),
            [c, rest @ ..] => {
                word.push(*c);
                input = rest;
            }
        }
    }
}

/// A closing quote must be followed by a space or the end of the line.
fn quote_closes_word(rest: &[u8]) -> Option<&[u8]> {
    rest.first()
        .is_none_or(u8::is_ascii_whitespace)
        .then_some(rest)
}

/// The value of a hexadecimal digit (callers have checked it is one).
fn hex_value(digit: u8) -> u8 {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
        .unwrap_or(0)
}

/// `value` in double quotes with C escapes, as Redis shows command-line values in its errors.
pub(super) fn quoted(value: &[u8]) -> String {
    let mut text = String::from("\"");
    for &byte in value {
        match byte {
            b'\\' => text.push_str("\\\\"),
            b'"' => text.push_str("\\\""),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            b'\t' => text.push_str("\\t"),
            0x07 => text.push_str("\\a"),
            0x08 => text.push_str("\\b"),
            b' '..=b'~' => text.push(char::from(byte)),
            other => text.push_str(&format!("\\x{other:02x}")),
        }
    }
    text.push('"');
    text
}
