//! The manifest of a Redis 7 multi-part AOF: which files, in which order, make the dataset.
//!
//! It is a text file `<appendfilename>.manifest` in `appenddirname`, one line per file:
//! `file <name> seq <n> type <b|h|i>`, the base first, then history files (left over from a
//! rewrite, to be deleted), then the incremental files in increasing sequence. Lines starting
//! with `#` are comments; keys may come in any order and unknown key/value pairs are ignored
//! (Redis reads them this way for forward compatibility); a name holding spaces, quotes or
//! control bytes is written double-quoted with escapes. Redis refuses lines longer than 1024
//! bytes, file names that are paths, and incremental sequences that do not grow; so does this.
//!
//! Files are named `<appendfilename>.<seq>.base.rdb` (or `.base.aof` without an RDB preamble)
//! and `<appendfilename>.<seq>.incr.aof`, as Redis names them, so a directory can be copied
//! between Redis and slotkv.

use std::fmt;

/// Longest manifest line Redis accepts.
pub const LINE_LEN_MAX: usize = 1024;
/// Most files a manifest may list (a bound on what a corrupt manifest can make us hold).
pub const FILES_MAX: usize = 100_000;

/// What a listed file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// The dataset at the last rewrite (`b`).
    Base,
    /// A file a finished rewrite made obsolete, to be deleted (`h`).
    History,
    /// Writes after the base (`i`).
    Incr,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }

    fn from_letter(letter: &str) -> Option<FileType> {
        match letter.as_bytes().first() {
            Some(b'b') => Some(FileType::Base),
            Some(b'h') => Some(FileType::History),
            Some(b'i') => Some(FileType::Incr),
            _ => None,
        }
    }
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// File name inside the AOF directory.
    pub name: String,
    /// Sequence number (base and incremental files count separately).
    pub seq: u64,
    /// Its role.
    pub kind: FileType,
}

/// The files of one AOF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base, if any.
    pub base: Option<FileInfo>,
    /// Obsolete files not deleted yet.
    pub history: Vec<FileInfo>,
    /// Incremental files, in increasing sequence.
    pub incr: Vec<FileInfo>,
}

/// Why a manifest was refused (Redis's wording), with the 1-based line where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// Line number, 0 when the whole file is at fault.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{} (manifest line {})", self.reason, self.line)
        }
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Name of the manifest file for `appendfilename`.
    pub fn file_name(appendfilename: &str) -> String {
        format!("{appendfilename}.manifest")
    }

    /// Name of base file `seq`: an RDB (preamble) or an AOF.
    pub fn base_name(appendfilename: &str, seq: u64, rdb: bool) -> String {
        let format = if rdb { "rdb" } else { "aof" };
        format!("{appendfilename}.{seq}.base.{format}")
    }

    /// Name of incremental file `seq`.
    pub fn incr_name(appendfilename: &str, seq: u64) -> String {
        format!("{appendfilename}.{seq}.incr.aof")
    }

    /// Highest incremental sequence used (0 if none).
    pub fn last_incr_seq(&self) -> u64 {
        self.incr.last().map_or(0, |info| info.seq)
    }

    /// Sequence of the base (0 if none).
    pub fn base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |info| info.seq)
    }

    /// The files to load, in order: the base, then the incremental files.
    pub fn load_order(&self) -> impl Iterator<Item = &FileInfo> {
        self.base.iter().chain(self.incr.iter())
    }

    /// Parses a manifest's text.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut manifest = Manifest::default();
        let mut lines = 0usize;
        for (index, raw) in text.split_inclusive(|&b| b == b'\n').enumerate() {
            let number = index + 1;
            lines = number;
            let fail = |reason| ManifestError {
                line: number,
                reason,
            };
            if raw.first() == Some(&b'#') {
                continue;
            }
            if raw.len() > LINE_LEN_MAX || raw.last() != Some(&b'\n') {
                return Err(fail("The AOF manifest file contains too long line"));
            }
            let line = std::str::from_utf8(raw)
                .map_err(|_| fail("Invalid AOF manifest file format"))?
                .trim_matches([' ', '\t', '\r', '\n']);
            let info = parse_line(line).map_err(fail)?;
            manifest.add(info).map_err(fail)?;
            if manifest.history.len() + manifest.incr.len() > FILES_MAX {
                return Err(fail("Too many files in the AOF manifest"));
            }
        }
        if lines == 0 {
            return Err(ManifestError {
                line: 0,
                reason: "Found an empty AOF manifest",
            });
        }
        Ok(manifest)
    }

    fn add(&mut self, info: FileInfo) -> Result<(), &'static str> {
        match info.kind {
            FileType::Base if self.base.is_some() => Err("Found duplicate base file information"),
            FileType::Base => {
                self.base = Some(info);
                Ok(())
            }
            FileType::History => {
                self.history.push(info);
                Ok(())
            }
            FileType::Incr if info.seq <= self.last_incr_seq() => {
                Err("Found a non-monotonic sequence number")
            }
            FileType::Incr => {
                self.incr.push(info);
                Ok(())
            }
        }
    }

    /// The manifest's text, as Redis writes it: base, history, incremental files.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for info in self.base.iter().chain(&self.history).chain(&self.incr) {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                quote_if_needed(&info.name),
                info.seq,
                info.kind.letter()
            ));
        }
        out
    }
}

/// Reads the key/value pairs of one line.
fn parse_line(line: &str) -> Result<FileInfo, &'static str> {
    const INVALID: &str = "Invalid AOF manifest file format";
    if line.is_empty() {
        return Err(INVALID);
    }
    let words = split_words(line).ok_or(INVALID)?;
    if words.len() < 6 || words.len() % 2 != 0 {
        return Err(INVALID);
    }
    let (mut name, mut seq, mut kind) = (None, 0u64, None);
    for pair in words.chunks_exact(2) {
        let (key, value) = (&pair[0], &pair[1]);
        if key.eq_ignore_ascii_case("file") {
            if value.contains('/') || value.is_empty() || value == "." || value == ".." {
                return Err("File can't be a path, just a filename");
            }
            name = Some(value.clone());
        } else if key.eq_ignore_ascii_case("seq") {
            // Redis reads it with atoll: anything not a positive number counts as missing.
            seq = value.parse().unwrap_or(0);
        } else if key.eq_ignore_ascii_case("type") {
            kind = Some(FileType::from_letter(value).ok_or("Unknown AOF file type")?);
        }
    }
    match (name, seq, kind) {
        (Some(name), seq, Some(kind)) if seq > 0 => Ok(FileInfo { name, seq, kind }),
        _ => Err(INVALID),
    }
}

/// Splits a line into words: bare words separated by spaces or tabs, or double-quoted words
/// with `\"`, `\\`, `\n`, `\r`, `\t`, `\a`, `\b` and `\xHH` escapes. `None` on unbalanced quotes.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let Some(&first) = chars.peek() else {
            return Some(words);
        };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => word.push(unescape(&mut chars)?),
                    c => word.push(c),
                }
            }
            // A closing quote must end the word.
            if chars.peek().is_some_and(|c| *c != ' ' && *c != '\t') {
                return None;
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
                word.push(c);
            }
        }
        words.push(word);
    }
}

fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    Some(match chars.next()? {
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'a' => '\u{7}',
        'b' => '\u{8}',
        'x' => {
            let high = chars.next()?.to_digit(16)?;
            let low = chars.next()?.to_digit(16)?;
            char::from_u32(high * 16 + low)?
        }
        other => other,
    })
}

/// A name as a manifest word: bare when it holds only printable non-space characters.
fn quote_if_needed(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' && c != '\'');
    if plain {
        return name.to_owned();
    }
    let mut out = String::from("\"");
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, seq: u64, kind: FileType) -> FileInfo {
        FileInfo {
            name: name.to_owned(),
            seq,
            kind,
        }
    }

    #[test]
    fn reads_what_redis_writes() {
        let text = b"file appendonly.aof.2.base.rdb seq 2 type b\n\
            file appendonly.aof.1.incr.aof seq 1 type h\n\
            file appendonly.aof.3.incr.aof seq 3 type i\n\
            file appendonly.aof.4.incr.aof seq 4 type i\n";
        let manifest = Manifest::parse(text).unwrap();
        assert_eq!(
            manifest.base,
            Some(info("appendonly.aof.2.base.rdb", 2, FileType::Base))
        );
        assert_eq!(manifest.history.len(), 1);
        let order: Vec<&str> = manifest.load_order().map(|i| i.name.as_str()).collect();
        assert_eq!(
            order,
            [
                "appendonly.aof.2.base.rdb",
                "appendonly.aof.3.incr.aof",
                "appendonly.aof.4.incr.aof"
            ]
        );
        assert_eq!(manifest.render().as_bytes(), &text[..]);
        assert_eq!(manifest.last_incr_seq(), 4);
    }

    #[test]
    fn round_trips_odd_names_and_ignores_comments_and_extra_keys() {
        let manifest = Manifest {
            base: Some(info("my file \"x\".1.base.aof", 1, FileType::Base)),
            history: Vec::new(),
            incr: vec![info("tab\there.1.incr.aof", 1, FileType::Incr)],
        };
        let text = manifest.render();
        assert!(text.starts_with("file \"my file \\\"x\\\".1.base.aof\" seq 1 type b\n"));
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), manifest);
        let extended = b"# comment\nTYPE i SEQ 7 FILE a.7.incr.aof future yes\n";
        let parsed = Manifest::parse(extended).unwrap();
        assert_eq!(parsed.incr, vec![info("a.7.incr.aof", 7, FileType::Incr)]);
    }

    #[test]
    fn refuses_what_redis_refuses() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "Found an empty AOF manifest"),
            (
                b"file a seq 1 type b",
                "The AOF manifest file contains too long line",
            ),
            (b"\n", "Invalid AOF manifest file format"),
            (b"file a seq 1\n", "Invalid AOF manifest file format"),
            (b"file a seq 0 type i\n", "Invalid AOF manifest file format"),
            (
                b"file ../a seq 1 type i\n",
                "File can't be a path, just a filename",
            ),
            (b"file a seq 1 type x\n", "Unknown AOF file type"),
            (
                b"file a seq 1 type b\nfile b seq 2 type b\n",
                "Found duplicate base file information",
            ),
            (
                b"file a seq 2 type i\nfile b seq 2 type i\n",
                "Found a non-monotonic sequence number",
            ),
            (
                b"file \"a seq 1 type i\n",
                "Invalid AOF manifest file format",
            ),
        ];
        for (text, reason) in cases {
            let error = Manifest::parse(text).unwrap_err();
            assert_eq!(error.reason, *reason, "{}", String::from_utf8_lossy(text));
        }
        let long = format!("file {} seq 1 type i\n", "a".repeat(LINE_LEN_MAX));
        assert_eq!(
            Manifest::parse(long.as_bytes()).unwrap_err().reason,
            "The AOF manifest file contains too long line"
        );
        let second = Manifest::parse(b"file a seq 1 type i\nfile a\n").unwrap_err();
        assert_eq!(second.line, 2);
    }

    #[test]
    fn names_files_as_redis_does() {
        assert_eq!(
            Manifest::base_name("appendonly.aof", 1, true),
            "appendonly.aof.1.base.rdb"
        );
        assert_eq!(
            Manifest::base_name("appendonly.aof", 3, false),
            "appendonly.aof.3.base.aof"
        );
        assert_eq!(
            Manifest::incr_name("appendonly.aof", 2),
            "appendonly.aof.2.incr.aof"
        );
        assert_eq!(
            Manifest::file_name("appendonly.aof"),
            "appendonly.aof.manifest"
        );
    }
}
