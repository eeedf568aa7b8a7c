//! Users and access control as Redis 7 has them (ACL).
//!
//! - [`user`]: a user, its flags and passwords (SHA-256, compared in constant time) and the
//!   ACL SETUSER rules.
//! - [`selector`]: command, key (`%R~`/`%W~`) and channel permissions; the command index.
//! - [`checker`]: the check of one command line against a user, and Redis's NOPERM texts.
//! - [`log`]: ACL LOG.
//! - [`file`]: `user` directives, the ACL file, ACL SAVE/LOAD.
//! - [`command`]: ACL, AUTH/HELLO authentication, and the gate the connection calls.
//!
//! Every connection holds the [`UserSlot`] it authenticated as. A slot keeps an `unrestricted`
//! flag next to its rules, so the default user with every permission costs a connection one
//! relaxed load and one branch per command; only restricted users take the slot's read lock
//! and run the check. ACL SETUSER changes a slot in place, so connections see new rules at
//! their next command, as in Redis.

pub mod checker;
pub mod command;
pub mod file;
pub mod log;
pub mod selector;
pub mod user;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard};

use crate::config::Settings;
use file::UserSet;
use user::{Defaults, User};

/// The message of Redis when both `aclfile` and `user` lines are configured.
const FILE_AND_USERS: &str = "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.";

/// One user as connections hold it: the rules, changed in place, and whether they allow
/// everything (read without a lock on every command).
#[derive(Debug)]
pub struct UserSlot {
    name: String,
    unrestricted: AtomicBool,
    rules: RwLock<User>,
}

impl UserSlot {
    fn new(name: &str, user: User) -> Arc<UserSlot> {
        Arc::new(UserSlot {
            name: name.to_owned(),
            unrestricted: AtomicBool::new(user.is_unrestricted()),
            rules: RwLock::new(user),
        })
    }

    /// The username.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether every command, key and channel is allowed: the hot path's only question.
    #[inline]
    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted.load(Ordering::Relaxed)
    }

    /// The current rules (keep the guard short: ACL SETUSER waits for it).
    pub fn rules(&self) -> RwLockReadGuard<'_, User> {
        self.rules.read()
    }

    /// Replaces the rules; returns the previous ones.
    fn replace(&self, user: User) -> User {
        let mut rules = self.rules.write();
        self.unrestricted
            .store(user.is_unrestricted(), Ordering::Relaxed);
        std::mem::replace(&mut *rules, user)
    }
}

/// INFO's `acl_access_denied_*` counters.
#[derive(Debug, Default)]
pub struct DeniedStats {
    pub auth: AtomicU64,
    pub cmd: AtomicU64,
    pub key: AtomicU64,
    pub channel: AtomicU64,
}

impl DeniedStats {
    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for counter in [&self.auth, &self.cmd, &self.key, &self.channel] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// What a change of the user set did to one user, so its connections can be dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Removed (its connections are closed).
    Removed(String),
    /// Rules replaced (its subscribers are checked again).
    Changed(String),
}

/// Every user, the log and the counters.
#[derive(Debug)]
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<UserSlot>>>,
    default: Arc<UserSlot>,
    aclfile: Option<PathBuf>,
    /// `acl-pubsub-default allchannels`: new users and selectors get every channel.
    pubsub_all: AtomicBool,
    pub log: log::AclLog,
    pub denied: DeniedStats,
}

impl Acl {
    /// The users the configuration defines: the default user (with `requirepass`), then the
    /// `user` lines or the ACL file (never both, as in Redis).
    pub fn from_settings(settings: &Settings) -> Result<Acl, String> {
        let aclfile = (!settings.aclfile.is_empty()).then(|| PathBuf::from(&settings.aclfile));
        if aclfile.is_some() && !settings.users.is_empty() {
            return Err(FILE_AND_USERS.to_owned());
        }
        let mut default_user = User::default_user();
        apply_requirepass(&mut default_user, settings.requirepass.as_deref());
        let acl = Acl {
            default: UserSlot::new("default", default_user),
            users: RwLock::new(BTreeMap::new()),
            aclfile,
            pubsub_all: AtomicBool::new(settings.acl_pubsub_default_all),
            log: log::AclLog::default(),
            denied: DeniedStats::default(),
        };
        acl.users
            .write()
            .insert("default".to_owned(), acl.default.clone());
        if !settings.users.is_empty() {
            let users = users_from_directives(&settings.users, acl.defaults())?;
            acl.install(users);
        }
        if let Some(path) = &acl.aclfile {
            let users = file::load(path, acl.defaults())?;
            acl.install(users);
        }
        Ok(acl)
    }

    /// What new users and selectors start from.
    fn defaults(&self) -> Defaults {
        Defaults {
            all_channels: self.pubsub_all.load(Ordering::Relaxed),
        }
    }

    /// CONFIG SET acl-pubsub-default.
    pub fn set_pubsub_default(&self, all_channels: bool) {
        self.pubsub_all.store(all_channels, Ordering::Relaxed);
    }

    /// The default user, which every connection starts as.
    pub fn default_user(&self) -> Arc<UserSlot> {
        self.default.clone()
    }

    /// The user named `name`.
    pub fn get(&self, name: &[u8]) -> Option<Arc<UserSlot>> {
        let name = std::str::from_utf8(name).ok()?;
        self.users.read().get(name).cloned()
    }

    /// The user `name` if `password` opens it (an enabled user; nopass or a matching hash).
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<UserSlot>> {
        self.get(name).filter(|slot| slot.rules().accepts(password))
    }

    /// Whether a new connection starts authenticated (the default user is on and nopass).
    pub fn new_connections_authenticated(&self) -> bool {
        let default = self.default.rules();
        default.enabled && default.nopass
    }

    /// ACL SETUSER: applies `rules` to a copy of the user (a new one if absent) and stores it.
    pub fn set_user(&self, name: &str, rules: &[Vec<u8>]) -> Result<Change, (Vec<u8>, String)> {
        let existing = self.users.read().get(name).cloned();
        let defaults = self.defaults();
        let mut user = existing
            .as_ref()
            .map_or_else(|| User::new(defaults), |slot| slot.rules().clone());
        for rule in rules {
            user.apply(rule, defaults)
                .map_err(|error| (rule.clone(), error.to_string()))?;
        }
        let mut users = self.users.write();
        match users.get(name) {
            Some(slot) => {
                slot.replace(user);
            }
            None => {
                users.insert(name.to_owned(), UserSlot::new(name, user));
            }
        }
        Ok(Change::Changed(name.to_owned()))
    }

    /// ACL DELUSER: removes the users (never `default`); returns the names removed.
    pub fn delete(&self, names: &[&str]) -> Vec<String> {
        let mut users = self.users.write();
        names
            .iter()
            .filter(|name| **name != "default")
            .filter_map(|name| users.remove(*name).map(|_| (*name).to_owned()))
            .collect()
    }

    /// Usernames in order (ACL USERS).
    pub fn usernames(&self) -> Vec<String> {
        self.users.read().keys().cloned().collect()
    }

    /// Every user as a `user <name> <rules>` line (ACL LIST, ACL SAVE).
    pub fn describe_all(&self) -> Vec<String> {
        self.users
            .read()
            .iter()
            .map(|(name, slot)| format!("user {name} {}", slot.rules().describe()))
            .collect()
    }

    /// CONFIG SET requirepass: the default user's only password (none: nopass), as Redis.
    pub fn set_requirepass(&self, password: Option<&str>) {
        let mut user = self.default.rules().clone();
        apply_requirepass(&mut user, password);
        self.default.replace(user);
    }

    /// ACL LOAD: replaces every user with the file's. Changed and removed users are reported.
    pub fn load_file(&self) -> Result<Vec<Change>, String> {
        let path = self.aclfile.as_ref().ok_or_else(no_aclfile)?;
        let users = file::load(path, self.defaults())?;
        Ok(self.install(users))
    }

    /// ACL SAVE.
    pub fn save_file(&self) -> Result<(), String> {
        let path = self.aclfile.as_ref().ok_or_else(no_aclfile)?;
        let text: String = self
            .describe_all()
            .into_iter()
            .map(|line| line + "\n")
            .collect();
        file::save(path, &text).map_err(|error| {
            tracing::warn!("Writing ACL file for ACL SAVE: {error}");
            "There was an error trying to save the ACLs. Please check the server logs for more information".to_owned()
        })
    }

    /// Makes `users` the user set: slots of users kept are updated in place, others added;
    /// users missing from the set are removed, except the default user, which keeps its rules
    /// when the set does not define it.
    fn install(&self, mut incoming: UserSet) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut users = self.users.write();
        if let Some(default) = incoming.remove("default") {
            if self.default.replace(default.clone()) != default {
                changes.push(Change::Changed("default".to_owned()));
            }
        }
        users.retain(|name, _| {
            let keep = name == "default" || incoming.contains_key(name);
            if !keep {
                changes.push(Change::Removed(name.clone()));
            }
            keep
        });
        for (name, user) in incoming {
            match users.get(&name) {
                Some(slot) => {
                    if slot.replace(user.clone()) != user {
                        changes.push(Change::Changed(name));
                    }
                }
                None => {
                    users.insert(name.clone(), UserSlot::new(&name, user));
                }
            }
        }
        changes
    }
}

fn no_aclfile() -> String {
    "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.".to_owned()
}

fn apply_requirepass(user: &mut User, password: Option<&str>) {
    let rule = match password {
        Some(password) => format!(">{password}"),
        None => "nopass".to_owned(),
    };
    // `resetpass` and `>...`/`nopass` cannot fail, and do not depend on the defaults.
    let _ = user.apply(b"resetpass", Defaults::default());
    let _ = user.apply(rule.as_bytes(), Defaults::default());
}

/// The users of the configuration's `user` lines (each `name rules...`).
fn users_from_directives(lines: &[Vec<Vec<u8>>], defaults: Defaults) -> Result<UserSet, String> {
    let mut users = UserSet::new();
    for words in lines {
        let Some((name, rules)) = words.split_first() else {
            continue;
        };
        if !user::is_valid_username(name) {
            return Err(format!(
                "Error in user declaration '{}': Usernames can't contain spaces or null characters",
                String::from_utf8_lossy(name)
            ));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        if users.contains_key(&name) {
            return Err(
                "Duplicate user found. A user can only be defined once in config files".to_owned(),
            );
        }
        let rules: Vec<bytes::Bytes> = rules
            .iter()
            .map(|rule| bytes::Bytes::copy_from_slice(rule))
            .collect();
        let user = file::user_from_rules(&rules, defaults)
            .map_err(|reason| format!("Error in user declaration '{name}': {reason}"))?;
        users.insert(name, user);
    }
    Ok(users)
}
