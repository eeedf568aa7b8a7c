//! Users as text: `user <name> <rules...>` lines, from the configuration's `user` directives or
//! an ACL file (`aclfile`), and ACL SAVE's atomic rewrite of that file (temporary file, fsync,
//! rename, fsync of the directory). A file with any error changes nothing, and every error is
//! reported with its line, as Redis's ACL LOAD does.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use bytes::Bytes;

use super::user::{is_valid_username, merge_selector_words, Defaults, User};

/// Largest ACL file read.
const FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Users by name, as a file or the configuration defines them.
pub type UserSet = BTreeMap<String, User>;

/// Builds a user from its rules (the words after the name), starting from a new user.
pub fn user_from_rules(words: &[Bytes], defaults: Defaults) -> Result<User, String> {
    let rules = merge_selector_words(words)
        .map_err(|_| "Unmatched parenthesis in selector definition".to_owned())?;
    let mut user = User::new(defaults);
    for rule in &rules {
        user.apply(rule, defaults).map_err(|error| {
            format!(
                "Error in applying operation '{}': {error}",
                String::from_utf8_lossy(rule)
            )
        })?;
    }
    Ok(user)
}

/// Parses `user <name> <rules...>` lines; `place` names the source in errors (a path).
pub fn parse_lines(text: &[u8], place: &str, defaults: Defaults) -> Result<UserSet, String> {
    let mut users = UserSet::new();
    let mut errors = String::new();
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() {
            continue;
        }
        // Words split as Redis splits them (quotes and escapes, so a password may hold
        // spaces), like a configuration line.
        let Some(words) = crate::config::split_config_line(line) else {
            errors.push_str(&format!(
                "{place}:{}: unbalanced quotes in acl line. ",
                index + 1
            ));
            continue;
        };
        let words: Vec<Bytes> = words.into_iter().map(Bytes::from).collect();
        if let Err(reason) = parse_line(&words, &mut users, defaults) {
            errors.push_str(&format!("{place}:{}: {reason}. ", index + 1));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(users)
}

/// One line: its user goes into `users`.
fn parse_line(words: &[Bytes], users: &mut UserSet, defaults: Defaults) -> Result<(), String> {
    let (Some(keyword), Some(name)) = (words.first(), words.get(1)) else {
        return Err("should start with user keyword followed by the username".to_owned());
    };
    if !keyword.eq_ignore_ascii_case(b"user") {
        return Err("should start with user keyword followed by the username".to_owned());
    }
    if !is_valid_username(name) {
        return Err(format!(
            "username '{}' contains invalid characters",
            String::from_utf8_lossy(name)
        ));
    }
    let name = String::from_utf8_lossy(name).into_owned();
    if users.contains_key(&name) {
        return Err(format!("Duplicate user '{name}' found"));
    }
    let user = user_from_rules(&words[2..], defaults)?;
    users.insert(name, user);
    Ok(())
}

/// Reads and parses the ACL file at `path`.
pub fn load(path: &Path, defaults: Defaults) -> Result<UserSet, String> {
    let text = read_limited(path).map_err(|error| {
        format!(
            "Error loading ACLs, opening file '{}': {}",
            path.display(),
            crate::config::os_reason(&error)
        )
    })?;
    parse_lines(&text, &path.display().to_string(), defaults)
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut text = Vec::new();
    file.take(FILE_BYTES_MAX + 1).read_to_end(&mut text)?;
    if text.len() as u64 > FILE_BYTES_MAX {
        return Err(std::io::Error::other("file too large"));
    }
    Ok(text)
}

/// The file's text: one `user` line per user, in name order.
pub fn render<'a>(users: impl Iterator<Item = (&'a str, String)>) -> String {
    users
        .map(|(name, rules)| format!("user {name} {rules}\n"))
        .collect()
}

/// Writes `text` to `path` atomically: a temporary file beside it, fsync, rename, directory
/// fsync.
pub fn save(path: &Path, text: &str) -> std::io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "users.acl".to_owned());
    let temp = directory.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(&directory)?.sync_all()
    })();
    if result.is_err() {
        // A leftover temporary file would only confuse; the error is what matters.
        let _ = std::fs::remove_file(&temp);
    }
    result
}
