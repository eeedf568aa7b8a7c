//! Rule parsing, selectors, key and channel checks, and the user set, without a server.

use bytes::Bytes;
use slotkv_engine::command::CommandTable;

use super::checker::{allows_subscription, check, Denial};
use super::file::{parse_lines, user_from_rules};
use super::selector::{RuleError, Selector};
use super::user::{hash_password, merge_selector_words, Defaults, User};
use super::{Acl, Change};
use crate::config::Settings;

/// Redis 7's defaults for new users (`acl-pubsub-default resetchannels`).
const NO: Defaults = Defaults {
    all_channels: false,
};

fn words(line: &str) -> Vec<Bytes> {
    line.split_whitespace()
        .map(|word| Bytes::copy_from_slice(word.as_bytes()))
        .collect()
}

fn user(rules: &str) -> User {
    let mut user = User::default();
    for rule in merge_selector_words(&words(rules)).expect("balanced") {
        user.apply(&rule, NO)
            .unwrap_or_else(|e| panic!("{rules}: {e}"));
    }
    user
}

fn run(user: &User, line: &str) -> Result<(), Denial> {
    let args = words(line);
    let spec = CommandTable::global()
        .resolve(&args)
        .expect("valid command");
    check(user, spec, &args)
}

fn apply_error(rules: &str, bad: &str) -> RuleError {
    let mut user = user(rules);
    user.apply(bad.as_bytes(), NO).expect_err(bad)
}

#[test]
fn new_users_are_off_and_allowed_nothing() {
    let fresh = User::default();
    assert_eq!(fresh.describe(), "off sanitize-payload resetchannels -@all");
    assert!(!fresh.accepts(b""));
    assert_eq!(run(&fresh, "GET k"), Err(Denial::Command));
}

#[test]
fn the_default_user_allows_everything() {
    let default = User::default_user();
    assert_eq!(default.describe(), "on nopass sanitize-payload ~* &* +@all");
    assert!(default.is_unrestricted());
    assert!(default.accepts(b"anything"));
    assert_eq!(run(&default, "CONFIG SET hz 10"), Ok(()));
}

#[test]
fn passwords_are_hashed_added_and_removed() {
    let mut u = user("on >secret >other");
    assert!(u.accepts(b"secret") && u.accepts(b"other") && !u.accepts(b"nope"));
    assert_eq!(u.passwords[0], hash_password(b"secret"));
    assert_eq!(u.passwords[0].len(), 64);
    u.apply(b"<secret", NO).expect("present");
    assert!(!u.accepts(b"secret"));
    assert_eq!(u.apply(b"<secret", NO), Err(RuleError::PasswordNotFound));
    let hash = hash_password(b"h");
    u.apply(format!("#{hash}").as_bytes(), NO)
        .expect("valid hash");
    assert!(u.accepts(b"h"));
    u.apply(format!("!{hash}").as_bytes(), NO).expect("present");
    assert!(!u.accepts(b"h"));
    assert_eq!(u.apply(b"#abc", NO), Err(RuleError::BadHash));
    let upper = hash.to_ascii_uppercase();
    assert_eq!(
        u.apply(format!("#{upper}").as_bytes(), NO),
        Err(RuleError::BadHash)
    );
    u.apply(b"nopass", NO).expect("flag");
    assert!(u.passwords.is_empty() && u.accepts(b"x"));
    u.apply(b"resetpass", NO).expect("flag");
    assert!(!u.nopass && !u.accepts(b"x"));
    u.apply(b"off", NO).expect("flag");
    u.apply(b"nopass", NO).expect("flag");
    assert!(!u.accepts(b"x"), "a disabled user never authenticates");
}

#[test]
fn unknown_rules_are_syntax_errors_with_redis_wording() {
    assert_eq!(apply_error("", "bogus"), RuleError::Syntax);
    assert_eq!(apply_error("", "%X~k"), RuleError::Syntax);
    assert_eq!(apply_error("", "%R"), RuleError::Syntax);
    assert_eq!(apply_error("", "+nosuchcommand"), RuleError::UnknownCommand);
    assert_eq!(
        apply_error("", "+@nosuchcategory"),
        RuleError::UnknownCommand
    );
    assert_eq!(apply_error("", "+config|asdf"), RuleError::UnknownCommand);
    assert_eq!(apply_error("", "+get|key1|key2"), RuleError::UnknownCommand);
    assert_eq!(
        apply_error("", "+config|get|appendonly"),
        RuleError::FirstArgOfSubcommand
    );
    assert_eq!(
        apply_error("allkeys", "~foo"),
        RuleError::PatternAfterAllKeys
    );
    assert_eq!(
        apply_error("allchannels", "&foo"),
        RuleError::PatternAfterAllChannels
    );
    assert_eq!(RuleError::Syntax.to_string(), "Syntax error");
    assert_eq!(
        RuleError::UnknownCommand.to_string(),
        "Unknown command or category name in ACL"
    );
}

#[test]
fn command_rules_are_compacted_as_redis_prints_them() {
    let cases = [
        ("+@all -@hash -@slow +hget", "+@all -@hash -@slow +hget"),
        (
            "+@all -@hash -@slow +hget -@hash",
            "+@all -@slow +hget -@hash",
        ),
        ("+@all -@string -@slow -@all", "-@all"),
        ("-@all +@HASH +@hash +@HaSh", "-@all +@hash"),
        ("-@all +HGET +hget +hGeT", "-@all +hget"),
        ("-@all +hget -hset +hset -hget", "-@all +hset -hget"),
        (
            "-@all +client|list +client|list +config|get +config +acl|list -acl",
            "-@all +client|list +config -acl",
        ),
        (
            "-@all +config +config|get -config|set +config",
            "-@all +config",
        ),
        ("+@all -client|kill", "+@all -client|kill"),
        ("+memory|doctor", "-@all +memory|doctor"),
        ("nocommands allcommands", "+@all"),
        (
            "-@all +select|0 +select|0 +debug|sleep +debug",
            "-@all +select|0 +debug",
        ),
    ];
    for (rules, expected) in cases {
        assert_eq!(user(rules).root.describe_commands(), expected, "{rules}");
    }
}

#[test]
fn commands_categories_and_subcommands_are_checked() {
    let u = user("on allkeys +@all -@string -client|kill");
    assert_eq!(run(&u, "SADD s a"), Ok(()));
    assert_eq!(run(&u, "SET k v"), Err(Denial::Command));
    assert_eq!(run(&u, "CLIENT ID"), Ok(()));
    assert_eq!(run(&u, "CLIENT KILL ID 1"), Err(Denial::Command));
    let only = user("on allkeys +client|id +config -config|set");
    assert_eq!(run(&only, "CLIENT ID"), Ok(()));
    assert_eq!(run(&only, "CLIENT LIST"), Err(Denial::Command));
    assert_eq!(run(&only, "CONFIG GET hz"), Ok(()));
    assert_eq!(run(&only, "CONFIG SET hz 10"), Err(Denial::Command));
    // AUTH, HELLO and QUIT need no permission.
    assert_eq!(run(&only, "AUTH u p"), Ok(()));
}

#[test]
fn key_patterns_follow_the_read_write_nature_of_the_command() {
    let u = user("on +@all ~app:* %R~ro:* %W~wo:*");
    assert_eq!(run(&u, "SET app:1 v"), Ok(()));
    assert_eq!(run(&u, "GET ro:1"), Ok(()));
    assert_eq!(
        run(&u, "SET ro:1 v"),
        Err(Denial::Key(Bytes::from_static(b"ro:1")))
    );
    assert_eq!(run(&u, "SET wo:1 v"), Ok(()));
    assert_eq!(
        run(&u, "GET wo:1"),
        Err(Denial::Key(Bytes::from_static(b"wo:1")))
    );
    assert_eq!(
        run(&u, "MGET app:1 other"),
        Err(Denial::Key(Bytes::from_static(b"other")))
    );
    assert_eq!(run(&u, "SINTERCARD 2 app:a ro:b"), Ok(()));
    // Store commands read their sources and write their destination only.
    assert_eq!(run(&u, "SUNIONSTORE wo:d ro:a app:b"), Ok(()));
    assert_eq!(run(&u, "ZUNIONSTORE wo:d 2 ro:a ro:b"), Ok(()));
    assert_eq!(run(&u, "COPY ro:a wo:b"), Ok(()));
    assert_eq!(run(&u, "SORT ro:a STORE wo:b"), Ok(()));
    assert_eq!(
        run(&u, "SUNIONSTORE ro:d app:b"),
        Err(Denial::Key(Bytes::from_static(b"ro:d")))
    );
    assert_eq!(
        run(&u, "ZUNIONSTORE wo:d 1 wo:a"),
        Err(Denial::Key(Bytes::from_static(b"wo:a")))
    );
    assert_eq!(
        run(&u, "SMOVE ro:a wo:b x"),
        Err(Denial::Key(Bytes::from_static(b"ro:a"))),
        "a move writes both keys"
    );
    // Patterns with both flags merge, and print as `~`.
    let merged = user("on %R~k %W~k");
    assert_eq!(merged.root.describe_keys(), "~k");
    assert_eq!(user("%RW~a %R~b %W~c").root.describe_keys(), "~a %R~b %W~c");
    assert_eq!(user("allkeys").root.describe_keys(), "~*");
    assert_eq!(user("allkeys resetkeys ~x").root.describe_keys(), "~x");
}

#[test]
fn channels_are_matched_as_globs_and_patterns_literally() {
    let u = user("on +@all allkeys resetchannels &news:* &chat");
    assert_eq!(run(&u, "PUBLISH news:1 hi"), Ok(()));
    assert_eq!(
        run(&u, "PUBLISH other hi"),
        Err(Denial::Channel(Bytes::from_static(b"other")))
    );
    assert_eq!(run(&u, "SPUBLISH chat hi"), Ok(()));
    assert_eq!(run(&u, "SUBSCRIBE news:2 chat"), Ok(()));
    assert_eq!(run(&u, "PSUBSCRIBE news:*"), Ok(()));
    assert_eq!(
        run(&u, "PSUBSCRIBE news:1*"),
        Err(Denial::Channel(Bytes::from_static(b"news:1*")))
    );
    assert!(allows_subscription(&u, b"news:9", false));
    assert!(!allows_subscription(&u, b"news:9*", true));
    assert_eq!(u.root.describe_channels(), "&news:* &chat");
    assert_eq!(user("allchannels").root.describe_channels(), "&*");
}

#[test]
fn selectors_grant_alternatives_and_the_worst_denial_is_reported() {
    let u = user("on +get allkeys (+set ~app:*) (+publish &news)");
    assert_eq!(run(&u, "GET anything"), Ok(()));
    assert_eq!(run(&u, "SET app:1 v"), Ok(()));
    assert_eq!(
        run(&u, "SET other v"),
        Err(Denial::Key(Bytes::from_static(b"other")))
    );
    assert_eq!(
        run(&u, "PUBLISH sport x"),
        Err(Denial::Channel(Bytes::from_static(b"sport")))
    );
    assert_eq!(
        u.describe(),
        "on sanitize-payload ~* resetchannels -@all +get \
         (~app:* resetchannels -@all +set) (resetchannels &news -@all +publish)"
    );
    let mut cleared = u.clone();
    cleared.apply(b"clearselectors", NO).expect("flag");
    assert_eq!(run(&cleared, "SET app:1 v"), Err(Denial::Command));
    assert_eq!(User::default().apply(b"(+get", NO), Err(RuleError::Syntax));
}

#[test]
fn selector_words_merge_and_unbalanced_ones_fail() {
    let merged = merge_selector_words(&words("on (+get ~k) (+set ~a ~b) off")).expect("balanced");
    assert_eq!(
        merged,
        vec![
            b"on".to_vec(),
            b"(+get ~k)".to_vec(),
            b"(+set ~a ~b)".to_vec(),
            b"off".to_vec()
        ]
    );
    assert_eq!(
        merge_selector_words(&words("on (+get ~k")),
        Err(b"(+get".to_vec())
    );
}

#[test]
fn reset_returns_to_a_new_user() {
    let mut u = user("on >p allkeys allchannels +@all (+get)");
    u.apply(b"reset", NO).expect("flag");
    assert_eq!(u, User::default());
}

#[test]
fn the_description_rebuilds_the_same_user() {
    for rules in [
        "on >a >b ~k:* %R~r:* resetchannels &c:* +@all -@dangerous +client|id (+get ~x) skip-sanitize-payload",
        "off nopass allkeys allchannels -@all +@read -get",
    ] {
        let original = user(rules);
        let rebuilt = user_from_rules(&words(&original.describe()), NO).expect("own description");
        assert_eq!(rebuilt, original, "{rules}");
    }
}

#[test]
fn acl_files_parse_with_every_error_placed() {
    let users =
        parse_lines(b"user alice on >x ~* +@all\n\nuser bob off\n", "f.acl", NO).expect("valid");
    assert_eq!(users.len(), 2);
    assert!(users["alice"].accepts(b"x"));
    let error = parse_lines(
        b"user a on\nuser a off\nnotuser x\nuser c +nope\n",
        "f.acl",
        NO,
    )
    .expect_err("invalid");
    assert!(
        error.contains("f.acl:2: Duplicate user 'a' found. "),
        "{error}"
    );
    assert!(
        error.contains("f.acl:3: should start with user keyword followed by the username. "),
        "{error}"
    );
    assert!(
        error.contains("f.acl:4: Error in applying operation '+nope': Unknown command or category name in ACL. "),
        "{error}"
    );
}

#[test]
fn acl_file_lines_take_quoted_words() {
    let users = parse_lines(
        b"user alice on \">two words\" ~* +@all\nuser bob on \"(~k* +get)\" >x\n",
        "f.acl",
        NO,
    )
    .expect("valid");
    assert!(users["alice"].accepts(b"two words"));
    assert!(!users["alice"].accepts(b"two"));
    assert!(users["bob"].accepts(b"x"));
    let error = parse_lines(b"user a on\nuser b on \">open\n", "f.acl", NO).expect_err("bad");
    assert_eq!(error, "f.acl:2: unbalanced quotes in acl line. ");
}

#[test]
fn requirepass_and_user_directives_build_the_user_set() {
    let mut settings = Settings {
        requirepass: Some("pw".into()),
        ..Settings::default()
    };
    settings
        .users
        .push(vec![b"alice".to_vec(), b"on".to_vec(), b">a".to_vec()]);
    let acl = Acl::from_settings(&settings).expect("valid");
    assert!(!acl.new_connections_authenticated());
    assert!(acl.authenticate(b"default", b"pw").is_some());
    assert!(acl.authenticate(b"alice", b"a").is_some());
    assert!(acl.authenticate(b"alice", b"b").is_none());
    assert_eq!(acl.usernames(), ["alice", "default"]);
    acl.set_requirepass(None);
    assert!(acl.new_connections_authenticated());
    settings.aclfile = "users.acl".into();
    let error = Acl::from_settings(&settings).expect_err("both");
    assert!(error.starts_with("Configuring Redis with users defined in redis.conf"));
}

#[test]
fn setuser_is_all_or_nothing_and_deluser_spares_default() {
    let acl = Acl::from_settings(&Settings::default()).expect("valid");
    let slot_before = acl.set_user("u", &[b"on".to_vec(), b">p".to_vec()]);
    assert_eq!(slot_before, Ok(Change::Changed("u".into())));
    let failed = acl.set_user("u", &[b"off".to_vec(), b"bogus".to_vec()]);
    assert_eq!(failed, Err((b"bogus".to_vec(), "Syntax error".to_owned())));
    assert!(acl.authenticate(b"u", b"p").is_some(), "nothing applied");
    assert_eq!(acl.delete(&["default", "u", "nobody"]), ["u"]);
    assert_eq!(acl.usernames(), ["default"]);
}

#[test]
fn slots_track_whether_they_are_unrestricted() {
    let acl = Acl::from_settings(&Settings::default()).expect("valid");
    let default = acl.default_user();
    assert!(default.is_unrestricted());
    acl.set_user("default", &[b"-flushall".to_vec()])
        .expect("valid");
    assert!(!default.is_unrestricted(), "the same slot sees the change");
    acl.set_user("default", &[b"+@all".to_vec()])
        .expect("valid");
    assert!(default.is_unrestricted());
    assert!(!Selector::default().is_unrestricted());
}

#[test]
fn dangerous_commands_leave_with_minus_dangerous() {
    let u = user("on allkeys +@all -@dangerous");
    for line in [
        "KEYS *",
        "FLUSHALL",
        "INFO",
        "CONFIG GET hz",
        "SORT k",
        "ACL LIST",
    ] {
        assert_eq!(run(&u, line), Err(Denial::Command), "{line}");
    }
    for line in ["GET k", "DBSIZE", "CLIENT ID", "ACL WHOAMI", "PING"] {
        assert_eq!(run(&u, line), Ok(()), "{line}");
    }
}

#[test]
fn first_argument_rules_allow_one_first_argument() {
    let u = user("on allkeys +select|0 +debug|Sleep");
    assert_eq!(run(&u, "SELECT 0"), Ok(()));
    assert_eq!(run(&u, "SELECT 1"), Err(Denial::Command));
    assert_eq!(run(&u, "DEBUG SLEEP 0"), Ok(()));
    assert_eq!(run(&u, "DEBUG DIGEST"), Err(Denial::Command));
    assert_eq!(u.root.describe_commands(), "-@all +select|0 +debug|sleep");
    assert_eq!(apply_error("", "-select|0"), RuleError::UnknownCommand);
    let mut reset = u.clone();
    reset.apply(b"-select", NO).expect("valid");
    assert_eq!(run(&reset, "SELECT 0"), Err(Denial::Command));
    assert_eq!(reset.root.describe_commands(), "-@all +debug|sleep -select");
}

#[test]
fn acl_pubsub_default_shapes_new_users_selectors_and_reset() {
    let all = Defaults { all_channels: true };
    let mut u = User::new(all);
    assert_eq!(u.root.describe_channels(), "&*");
    u.apply(b"(+publish)", all).expect("selector");
    assert_eq!(u.selectors[0].describe_channels(), "&*");
    u.apply(b"reset", NO).expect("flag");
    assert_eq!(u, User::default());
    let settings = Settings {
        acl_pubsub_default_all: true,
        ..Settings::default()
    };
    let acl = Acl::from_settings(&settings).expect("valid");
    acl.set_user("p", &[b"on".to_vec()]).expect("valid");
    let slot = acl.get(b"p").expect("created");
    assert_eq!(slot.rules().root.describe_channels(), "&*");
    acl.set_pubsub_default(false);
    acl.set_user("q", &[b"on".to_vec()]).expect("valid");
    let slot = acl.get(b"q").expect("created");
    assert_eq!(slot.rules().root.describe_channels(), "");
}
