//! One ACL user and the rules of ACL SETUSER: on/off, passwords (kept only as SHA-256 hex),
//! `nopass`, `reset`, payload sanitisation flags, and selectors; the selector rules themselves
//! live in [`super::selector`]. Rules apply left to right to a copy, so a failed rule changes
//! nothing (ACL SETUSER is all or nothing, as in Redis).

use bytes::Bytes;
use sha2::{Digest, Sha256};
use slotkv_engine::Reply;
use subtle::ConstantTimeEq;

use super::selector::{RuleError, Selector};

/// Most passwords one user may hold (a bound on what SETUSER stores).
pub const PASSWORDS_MAX: usize = 1024;
/// Most extra selectors one user may hold.
pub const SELECTORS_MAX: usize = 1024;
/// Longest username accepted.
pub const USERNAME_LEN_MAX: usize = 1024;

/// What a new user or selector starts with, from the configuration: `acl-pubsub-default`
/// (`allchannels` or, Redis 7's default, `resetchannels`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defaults {
    pub all_channels: bool,
}

/// A SHA-256 digest as 64 lowercase hex characters (Redis's stored form).
pub type PasswordHash = String;

/// A user: its flags, password hashes and selectors (the first is the root selector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub enabled: bool,
    pub nopass: bool,
    /// `skip-sanitize-payload`: kept so Redis ACL files load and round-trip; it changes
    /// nothing in slotkv.
    pub skip_sanitize_payload: bool,
    pub passwords: Vec<PasswordHash>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
}

impl Default for User {
    /// A new user under Redis 7's defaults: off, no password, nothing allowed.
    fn default() -> Self {
        User::new(Defaults::default())
    }
}

/// The hex SHA-256 of a password.
pub fn hash_password(password: &[u8]) -> PasswordHash {
    let digest = Sha256::digest(password);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn is_valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether a username can be stored: no spaces or NUL, bounded.
pub fn is_valid_username(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= USERNAME_LEN_MAX
        && !name.iter().any(|b| b.is_ascii_whitespace() || *b == 0)
}

impl User {
    /// A new user: off, no password, no command or key, channels as `defaults` say.
    pub fn new(defaults: Defaults) -> User {
        User {
            enabled: false,
            nopass: false,
            skip_sanitize_payload: false,
            passwords: Vec::new(),
            root: Selector::new(defaults),
            selectors: Vec::new(),
        }
    }

    /// The default user as Redis creates it: on, nopass, everything allowed.
    pub fn default_user() -> User {
        User {
            enabled: true,
            nopass: true,
            root: Selector::everything(),
            ..User::default()
        }
    }

    /// Applies one rule (a whole `(...)` selector included); `defaults` shape what `reset` and
    /// new selectors start from.
    pub fn apply(&mut self, rule: &[u8], defaults: Defaults) -> Result<(), RuleError> {
        if let Some(inner) = rule.strip_prefix(b"(") {
            let inner = inner.strip_suffix(b")").ok_or(RuleError::Syntax)?;
            return self.add_selector(inner, defaults);
        }
        match rule.to_ascii_lowercase().as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"sanitize-payload" => self.skip_sanitize_payload = false,
            b"skip-sanitize-payload" => self.skip_sanitize_payload = true,
            b"clearselectors" => self.selectors.clear(),
            b"reset" => *self = User::new(defaults),
            _ => return self.apply_password_or_selector_rule(rule),
        }
        Ok(())
    }

    fn apply_password_or_selector_rule(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        match rule.first() {
            Some(b'>') => self.add_password(hash_password(&rule[1..])),
            Some(b'#') => {
                let hash = &rule[1..];
                if !is_valid_hash(hash) {
                    return Err(RuleError::BadHash);
                }
                self.add_password(String::from_utf8_lossy(hash).into_owned())
            }
            Some(b'<') => self.remove_password(&hash_password(&rule[1..])),
            Some(b'!') => {
                let hash = &rule[1..];
                if !is_valid_hash(hash) {
                    return Err(RuleError::BadHash);
                }
                self.remove_password(&String::from_utf8_lossy(hash))
            }
            _ => self.root.apply(rule),
        }
    }

    fn add_password(&mut self, hash: PasswordHash) -> Result<(), RuleError> {
        self.nopass = false;
        if !self.passwords.contains(&hash) {
            if self.passwords.len() >= PASSWORDS_MAX {
                return Err(RuleError::Syntax);
            }
            self.passwords.push(hash);
        }
        Ok(())
    }

    fn remove_password(&mut self, hash: &str) -> Result<(), RuleError> {
        let before = self.passwords.len();
        self.passwords.retain(|stored| stored != hash);
        if self.passwords.len() == before {
            return Err(RuleError::PasswordNotFound);
        }
        Ok(())
    }

    fn add_selector(&mut self, rules: &[u8], defaults: Defaults) -> Result<(), RuleError> {
        if self.selectors.len() >= SELECTORS_MAX {
            return Err(RuleError::Syntax);
        }
        let mut selector = Selector::new(defaults);
        for rule in rules
            .split(u8::is_ascii_whitespace)
            .filter(|r| !r.is_empty())
        {
            selector.apply(rule)?;
        }
        self.selectors.push(selector);
        Ok(())
    }

    /// Every selector, the root first.
    pub fn all_selectors(&self) -> impl Iterator<Item = &Selector> {
        std::iter::once(&self.root).chain(&self.selectors)
    }

    /// Whether `password` opens this user (enabled, and nopass or a matching hash), compared in
    /// constant time over every stored hash.
    pub fn accepts(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hash = hash_password(password);
        self.passwords.iter().fold(false, |found, stored| {
            found | bool::from(stored.as_bytes().ct_eq(hash.as_bytes()))
        })
    }

    /// Whether the root selector allows everything (the connection may skip checks).
    pub fn is_unrestricted(&self) -> bool {
        self.root.is_unrestricted()
    }

    /// The flags GETUSER lists.
    fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        flags.push(if self.skip_sanitize_payload {
            "skip-sanitize-payload"
        } else {
            "sanitize-payload"
        });
        flags
    }

    /// The user as rules (`on nopass sanitize-payload ~* &* +@all`), without `user <name>`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.flags().into_iter().map(str::to_owned).collect();
        parts.extend(self.passwords.iter().map(|hash| format!("#{hash}")));
        parts.push(self.root.describe());
        parts.extend(
            self.selectors
                .iter()
                .map(|selector| format!("({})", selector.describe())),
        );
        parts.join(" ")
    }

    /// ACL GETUSER's reply.
    pub fn getuser_reply(&self) -> Reply {
        let text = |s: String| Reply::Bulk(Bytes::from(s));
        let selector_map = |selector: &Selector| {
            Reply::Map(vec![
                (Reply::text("commands"), text(selector.describe_commands())),
                (Reply::text("keys"), text(selector.describe_keys())),
                (Reply::text("channels"), text(selector.describe_channels())),
            ])
        };
        Reply::Map(vec![
            (
                Reply::text("flags"),
                Reply::Array(self.flags().into_iter().map(Reply::text).collect()),
            ),
            (
                Reply::text("passwords"),
                Reply::Array(self.passwords.iter().map(|h| text(h.clone())).collect()),
            ),
            (Reply::text("commands"), text(self.root.describe_commands())),
            (Reply::text("keys"), text(self.root.describe_keys())),
            (Reply::text("channels"), text(self.root.describe_channels())),
            (
                Reply::text("selectors"),
                Reply::Array(self.selectors.iter().map(selector_map).collect()),
            ),
        ])
    }
}

/// Joins the arguments of a selector that spans several words (`(+get` `~k)`) into one rule,
/// as Redis merges ACL SETUSER's arguments; errors with the word that opened it.
pub fn merge_selector_words(words: &[Bytes]) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut rules = Vec::new();
    // The opening word (for the error) and the selector joined so far.
    let mut open: Option<(&Bytes, Vec<u8>)> = None;
    for word in words {
        match open.as_mut() {
            Some((_, selector)) => {
                selector.push(b' ');
                selector.extend_from_slice(word);
                if word.ends_with(b")") {
                    rules.extend(open.take().map(|(_, selector)| selector));
                }
            }
            None if word.starts_with(b"(") && !word.ends_with(b")") => {
                open = Some((word, word.to_vec()));
            }
            None => rules.push(word.to_vec()),
        }
    }
    match open {
        Some((first, _)) => Err(first.to_vec()),
        None => Ok(rules),
    }
}
