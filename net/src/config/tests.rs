use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::source::{parse_invocation_with_stdin, split_args};
use super::*;
use slotkv_engine::notify::Events;
use slotkv_engine::MaxmemoryPolicy;

/// A directory under the system temp dir, unique to the test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "slotkv-config-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| (*word).to_owned()).collect()
}

fn invoke_with_stdin(words: &[&str], stdin: &str) -> Result<Invocation, ConfigError> {
    parse_invocation_with_stdin(&strings(words), &mut Cursor::new(stdin.as_bytes().to_vec()))
}

fn invoke(words: &[&str]) -> Result<Invocation, ConfigError> {
    invoke_with_stdin(words, "")
}

fn settings_of(words: &[&str]) -> Settings {
    match invoke(words) {
        Ok(Invocation::Run { settings, .. }) => settings,
        other => panic!("not a run: {other:?}"),
    }
}

fn fatal(line: usize, text: &str, reason: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (slotkv {}) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{reason}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Loads `text` as a configuration file and returns the settings or the error's text.
fn load(text: &str) -> Result<Settings, String> {
    let dir = TempDir::new();
    let path = dir.write("redis.conf", text);
    match invoke(&[path.to_str().unwrap()]) {
        Ok(Invocation::Run { settings, .. }) => Ok(settings),
        Ok(other) => panic!("not a run: {other:?}"),
        Err(error) => Err(error.to_string()),
    }
}

/// The reason a single directive line is refused.
fn line_error(line: &str) -> String {
    let error = load(line).expect_err("the line should be refused");
    let prefix = format!(
        "\n*** FATAL CONFIG FILE ERROR (slotkv {}) ***\nReading the configuration file, at line 1\n>>> '{line}'\n",
        env!("CARGO_PKG_VERSION")
    );
    error
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected error: {error}"))
        .to_owned()
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn args(words: &[&str]) -> Vec<Bytes> {
    words.iter().map(|word| b(word)).collect()
}

fn pairs(reply: Reply) -> Vec<(String, String)> {
    let Reply::Map(entries) = reply else {
        panic!("CONFIG GET answers a map")
    };
    entries
        .into_iter()
        .map(|(key, value)| match (key, value) {
            (Reply::Bulk(key), Reply::Bulk(value)) => (
                String::from_utf8(key.to_vec()).unwrap(),
                String::from_utf8(value.to_vec()).unwrap(),
            ),
            other => panic!("bulk strings expected: {other:?}"),
        })
        .collect()
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn set_error(live: &LiveConfig, words: &[&str]) -> String {
    live.set(&args(words), &local_peer())
        .expect_err("CONFIG SET should fail")
        .to_string()
}

#[test]
fn io_threads_leave_a_core_and_are_read_at_start() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(
        Settings::default().io_threads,
        cores.saturating_sub(1).max(1)
    );
    assert_eq!(settings_of(&["--io-threads", "3"]).io_threads, 3);
}

#[test]
fn memory_units_follow_redis() {
    assert_eq!(parse_memory("0"), Some(0));
    assert_eq!(parse_memory("100"), Some(100));
    assert_eq!(parse_memory("100b"), Some(100));
    assert_eq!(parse_memory("1k"), Some(1000));
    assert_eq!(parse_memory("1kb"), Some(1024));
    assert_eq!(parse_memory("1KB"), Some(1024));
    assert_eq!(parse_memory("2m"), Some(2_000_000));
    assert_eq!(parse_memory("2Mb"), Some(2 * 1024 * 1024));
    assert_eq!(parse_memory("3g"), Some(3_000_000_000));
    assert_eq!(parse_memory("3gb"), Some(3 * 1024 * 1024 * 1024));
    for refused in [
        "",
        "kb",
        "-1",
        "+1",
        " 1",
        "1.5mb",
        "1tb",
        "1 kb",
        "99999999999999999999",
    ] {
        assert_eq!(parse_memory(refused), None, "{refused:?}");
    }
    assert_eq!(parse_memory("18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_memory("18446744073709551615k"), None);
}

#[test]
fn lines_split_like_redis() {
    let words = |line: &str| {
        split_args(line.as_bytes()).map(|words| {
            words
                .into_iter()
                .map(|word| String::from_utf8(word).unwrap())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(words("  bind  a   b "), Some(strings(&["bind", "a", "b"])));
    assert_eq!(
        words(r#"requirepass "a b\n\x41\"" 'it\'s' """#),
        Some(strings(&["requirepass", "a b\nA\"", "it's", ""]))
    );
    assert_eq!(words(r#"x ab"cd""#), Some(strings(&["x", "abcd"])));
    assert_eq!(words("logfile \"unterminated"), None);
    assert_eq!(words("logfile 'unterminated"), None);
    assert_eq!(words("logfile \"a\"b"), None);
    assert_eq!(words("   "), Some(Vec::new()));
}

#[test]
fn defaults_are_redis_defaults() {
    let settings = settings_of(&[]);
    assert_eq!(settings, Settings::default());
    assert_eq!(settings.port, 6379);
    assert_eq!(settings.bind, strings(&["127.0.0.1", "-::1"]));
    assert_eq!(settings.proto_max_bulk_len, 536_870_912);
    assert_eq!(settings.client_query_buffer_limit, 1_073_741_824);
    assert_eq!(settings.loglevel, LogLevel::Notice);
}

#[test]
fn file_with_comments_quotes_and_repeats() {
    let settings = load(
        "# a comment\n\n   port 7000\r\nPORT 7001\nbind 0.0.0.0 ::1\r\n\
         requirepass \"sec ret\"\nloglevel WARNING\nmaxclients 50\ntimeout 30\n\
         protected-mode no\nbind-source-addr 127.0.0.1\nenable-debug-command LOCAL\n\
         enable-protected-configs yes\nrename-command flushall wipe\nrename-command KEYS \"\"\n\
         tcp-keepalive 0\ntcp-backlog 128\nlogfile '/tmp/x.log'\npidfile /tmp/x.pid\n\
         databases 4\nio-threads 2\nproto-max-bulk-len 2mb\nclient-query-buffer-limit 1gb\nhz 1000\n\
         daemonize no\nnotify-keyspace-events Elg\nmaxmemory 1gb\nmaxmemory-policy ALLKEYS-LRU\n\
         maxmemory-samples 7\nslave-ignore-maxmemory no\nsave 900 1 300 10\ndbfilename data.rdb\n\
         rdbcompression no\nrdbchecksum no\nstop-writes-on-bgsave-error no\n\
         appendonly yes\nappendfilename my.aof\n\
         appenddirname aofs\nappendfsync ALWAYS\naof-use-rdb-preamble no\n\
         aof-load-truncated no\nauto-aof-rewrite-percentage 50\n\
         auto-aof-rewrite-min-size 1mb\naof-timestamp-enabled no\n\
         acllog-max-len 5\nacl-pubsub-default ALLCHANNELS\naclfile users.acl\nuser alice on \"(+get ~k*)\" >x\n",
    )
    .unwrap();
    assert_eq!(
        settings,
        Settings {
            port: 7001,
            bind: strings(&["0.0.0.0", "::1"]),
            protected_mode: false,
            bind_source_addr: "127.0.0.1".into(),
            enable_debug_command: Permission::Local,
            enable_protected_configs: Permission::Yes,
            renamed_commands: vec![
                (b"flushall".to_vec(), b"wipe".to_vec()),
                (b"KEYS".to_vec(), Vec::new()),
            ],
            databases: 4,
            io_threads: 2,
            maxclients: 50,
            timeout_secs: 30,
            tcp_keepalive_secs: 0,
            tcp_backlog: 128,
            loglevel: LogLevel::Warning,
            logfile: "/tmp/x.log".into(),
            pidfile: "/tmp/x.pid".into(),
            dir: PathBuf::from("."),
            proto_max_bulk_len: 2 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            normal_output: Settings::default().normal_output,
            pubsub_output: Settings::default().pubsub_output,
            encodings: Encodings::default(),
            memory: MemoryLimits {
                maxmemory_bytes: 1 << 30,
                policy: MaxmemoryPolicy::AllKeysLru,
                samples: 7,
                ..MemoryLimits::default()
            },
            replica_ignore_maxmemory: false,
            requirepass: Some("sec ret".into()),
            users: vec![vec![
                b"alice".to_vec(),
                b"on".to_vec(),
                b"(+get ~k*)".to_vec(),
                b">x".to_vec(),
            ]],
            aclfile: "users.acl".into(),
            acllog_max_len: 5,
            acl_pubsub_default_all: true,
            hz: 500,
            notify_keyspace_events: Events::parse("Elg").unwrap(),
            save_points: vec![(900, 1), (300, 10)],
            dbfilename: "data.rdb".into(),
            rdbcompression: false,
            rdbchecksum: false,
            stop_writes_on_bgsave_error: false,
            aof: super::AofSettings {
                enabled: true,
                filename: "my.aof".into(),
                dirname: "aofs".into(),
                fsync: slotkv_persistence::aof::FsyncPolicy::Always,
                rdb_preamble: false,
                load_truncated: false,
                rewrite_percentage: 50,
                rewrite_min_size: 1024 * 1024,
            },
            repl: super::ReplSettings::default(),
            cluster: super::ClusterSettings::default(),
            tls: crate::tls::TlsSettings::default(),
        }
    );
    for (line, reason) in [
        (
            "appendfilename a/b",
            "appendfilename can't be a path, just a filename",
        ),
        (
            "appenddirname ..",
            "appenddirname can't be a path, just a dirname",
        ),
        (
            "appendfsync sometimes",
            "argument(s) must be one of the following: always, everysec, no",
        ),
        ("appendonly maybe", "argument must be 'yes' or 'no'"),
    ] {
        assert_eq!(
            load(&format!("{line}\n")).unwrap_err(),
            fatal(1, line, reason)
        );
    }
}

#[test]
fn save_points_and_the_rdb_file_name_are_checked() {
    assert!(load("save \"\"\n").unwrap().save_points.is_empty());
    assert_eq!(
        Settings::default().save_points,
        vec![(3600, 1), (300, 100), (60, 10_000)]
    );
    assert_eq!(
        load("save 60\n").unwrap_err(),
        fatal(1, "save 60", "Invalid save parameters")
    );
    assert_eq!(
        load("save 60 x\n").unwrap_err(),
        fatal(1, "save 60 x", "Invalid save parameters")
    );
    assert_eq!(
        load("dbfilename a/b.rdb\n").unwrap_err(),
        fatal(
            1,
            "dbfilename a/b.rdb",
            "dbfilename can't be a path, just a filename"
        )
    );
}

#[test]
fn save_lines_add_up_and_an_empty_one_clears_them() {
    let points = |text: &str| load(text).unwrap().save_points;
    assert_eq!(
        points("save 900 1\nsave 300 10\nsave 60 10000\n"),
        [(900, 1), (300, 10), (60, 10_000)]
    );
    assert_eq!(points("save 900 1\nsave \"\"\n"), []);
    assert_eq!(points("save \"\"\nsave 60 5\n"), [(60, 5)]);
    assert_eq!(points("port 7000\n"), [(3600, 1), (300, 100), (60, 10_000)]);
}

#[test]
fn file_errors_name_the_line() {
    assert_eq!(
        load("# header\nport abc\n").unwrap_err(),
        fatal(2, "port abc", "argument couldn't be parsed into an integer")
    );
    assert_eq!(
        load("\nfoo bar\n").unwrap_err(),
        fatal(2, "foo bar", "Bad directive or wrong number of arguments")
    );
}

#[test]
fn every_value_error_has_redis_words() {
    let cases = [
        ("port 1 2", "wrong number of arguments"),
        ("port", "wrong number of arguments"),
        ("bind", "wrong number of arguments"),
        (
            "port 70000",
            "argument must be between 0 and 65535 inclusive",
        ),
        ("port -1", "argument must be between 0 and 65535 inclusive"),
        ("port 05", "argument couldn't be parsed into an integer"),
        ("port +5", "argument couldn't be parsed into an integer"),
        ("timeout 10k", "argument couldn't be parsed into an integer"),
        (
            "timeout -1",
            "argument must be between 0 and 2147483647 inclusive",
        ),
        (
            "tcp-keepalive 2147483648",
            "argument must be between 0 and 2147483647 inclusive",
        ),
        (
            "tcp-backlog -1",
            "argument must be between 0 and 2147483647 inclusive",
        ),
        (
            "maxclients 0",
            "argument must be between 1 and 4294967295 inclusive",
        ),
        (
            "databases 0",
            "argument must be between 1 and 1024 inclusive",
        ),
        (
            "databases 1025",
            "argument must be between 1 and 1024 inclusive",
        ),
        (
            "io-threads 0",
            "argument must be between 1 and 128 inclusive",
        ),
        (
            "io-threads 129",
            "argument must be between 1 and 128 inclusive",
        ),
        ("hz x", "argument couldn't be parsed into an integer"),
        (
            "hz -1",
            "argument must be between 0 and 2147483647 inclusive",
        ),
        (
            "proto-max-bulk-len 1.5mb",
            "argument must be a memory value",
        ),
        ("proto-max-bulk-len -2g", "argument must be a memory value"),
        (
            "proto-max-bulk-len 1000k",
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        (
            "client-query-buffer-limit 10000000000000000000",
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        (
            "loglevel loud",
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
        ),
        ("daemonize maybe", "argument must be 'yes' or 'no'"),
        ("include a b", "Bad directive or wrong number of arguments"),
        ("logfile \"open", "Unbalanced quotes in configuration line"),
        ("requirepass \"\\xff\"", "argument must be valid UTF-8 text"),
    ];
    for (line, reason) in cases {
        assert_eq!(line_error(line), reason, "{line}");
    }
    assert!(line_error("daemonize yes").starts_with("slotkv does not daemonize"));
    let many = format!("bind {}", vec!["127.0.0.1"; 17].join(" "));
    assert_eq!(line_error(&many), "Too many bind addresses specified.");
}

#[test]
fn values_edge_cases() {
    assert_eq!(load("hz 0").unwrap().hz, 1);
    assert_eq!(
        load("loglevel nothing").unwrap().loglevel,
        LogLevel::Nothing
    );
    assert_eq!(load("requirepass \"\"").unwrap().requirepass, None);
    assert_eq!(load("port 0").unwrap().port, 0);
    assert_eq!(load("logfile \"\"").unwrap().logfile, "");
    assert_eq!(
        load("proto-max-bulk-len 9223372036854775807")
            .unwrap()
            .proto_max_bulk_len,
        i64::MAX as u64
    );
}

#[test]
fn dir_must_exist_and_becomes_absolute() {
    let dir = TempDir::new();
    let settings = load(&format!("dir {}", dir.0.display())).unwrap();
    assert_eq!(settings.dir, std::fs::canonicalize(&dir.0).unwrap());
    let missing = dir.0.join("missing");
    assert_eq!(
        line_error(&format!("dir {}", missing.display())),
        "No such file or directory"
    );
    let file = dir.write("plain", "");
    assert_eq!(
        line_error(&format!("dir {}", file.display())),
        "Not a directory"
    );
}

#[test]
fn includes_apply_in_place_and_later_lines_win() {
    let dir = TempDir::new();
    dir.write("inner.conf", "port 7100\ntimeout 5\n");
    let main = dir.write(
        "main.conf",
        &format!(
            "port 7000\ninclude {}\ntimeout 9\n",
            dir.0.join("inner.conf").display()
        ),
    );
    let settings = settings_of(&[main.to_str().unwrap()]);
    assert_eq!((settings.port, settings.timeout_secs), (7100, 9));
}

#[test]
fn include_globs_match_file_names_in_order() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.0.join("conf.d")).unwrap();
    dir.write("conf.d/a.conf", "port 7001\n");
    dir.write("conf.d/b.conf", "port 7002\ntimeout 3\n");
    dir.write("conf.d/.hidden.conf", "timeout 4\n");
    dir.write("conf.d/c.txt", "port 7003\n");
    let main = dir.write(
        "main.conf",
        &format!(
            "include {}\ninclude {}\n",
            dir.0.join("conf.d/*.conf").display(),
            dir.0.join("nothing/*.conf").display()
        ),
    );
    let settings = settings_of(&[main.to_str().unwrap()]);
    assert_eq!((settings.port, settings.timeout_secs), (7002, 3));
}

#[test]
fn include_errors_name_the_included_file() {
    let dir = TempDir::new();
    let inner = dir.write("inner.conf", "\nport 1 2\n");
    let main = dir.write("main.conf", &format!("include {}\n", inner.display()));
    let error = invoke(&[main.to_str().unwrap()]).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "\n*** FATAL CONFIG FILE ERROR (slotkv {}) ***\nReading the configuration file '{}', at line 2\n>>> 'port 1 2'\nwrong number of arguments",
            env!("CARGO_PKG_VERSION"),
            inner.display()
        )
    );
    let missing = dir.0.join("missing.conf");
    let main = dir.write("main2.conf", &format!("include {}\n", missing.display()));
    assert_eq!(
        invoke(&[main.to_str().unwrap()]).unwrap_err().to_string(),
        format!(
            "Fatal error, can't open config file '{}': No such file or directory",
            missing.display()
        )
    );
}

#[test]
fn self_include_stops_at_the_depth_limit() {
    let dir = TempDir::new();
    let path = dir.0.join("loop.conf");
    std::fs::write(&path, format!("include {}\n", path.display())).unwrap();
    let error = invoke(&[path.to_str().unwrap()]).unwrap_err().to_string();
    assert!(
        error.ends_with("includes nested more than 16 deep (does a file include itself?)"),
        "{error}"
    );
}

#[test]
fn missing_config_file_is_fatal() {
    let dir = TempDir::new();
    let missing = dir.0.join("none.conf");
    assert_eq!(
        invoke(&[missing.to_str().unwrap()])
            .unwrap_err()
            .to_string(),
        format!(
            "Fatal error, can't open config file '{}': No such file or directory",
            missing.display()
        )
    );
}

#[test]
fn command_line_options_override_the_file() {
    let dir = TempDir::new();
    let path = dir.write("redis.conf", "port 7000\ntimeout 10\n");
    let invocation = invoke(&[
        path.to_str().unwrap(),
        "--port",
        "7001",
        "--bind",
        "127.0.0.1",
        "::1",
        "--loglevel verbose",
        "--requirepass",
        "--not-an-option",
    ])
    .unwrap();
    let Invocation::Run {
        settings,
        config_file,
    } = invocation
    else {
        panic!("not a run")
    };
    assert_eq!(config_file, Some(path.clone()));
    assert_eq!(settings.port, 7001);
    assert_eq!(settings.timeout_secs, 10);
    assert_eq!(settings.bind, strings(&["127.0.0.1", "::1"]));
    assert_eq!(settings.loglevel, LogLevel::Verbose);
    assert_eq!(settings.requirepass.as_deref(), Some("--not-an-option"));
}

#[test]
fn command_line_errors_name_the_argument() {
    let header = format!(
        "\n*** FATAL CONFIG FILE ERROR (slotkv {}) ***\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        invoke(&["--port", "abc"]).unwrap_err().to_string(),
        format!(
            "{header}Reading the command line, at argument '--port'\n>>> 'port \"abc\"'\nargument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        invoke(&["--port", "0", "--timeout"]).unwrap_err().to_string(),
        format!("{header}Reading the command line, at argument '--timeout'\n>>> 'timeout'\nwrong number of arguments")
    );
    assert_eq!(
        invoke(&["--foo", "bar"]).unwrap_err().to_string(),
        format!("{header}Reading the command line, at argument '--foo'\n>>> 'foo \"bar\"'\nBad directive or wrong number of arguments")
    );
    assert_eq!(
        invoke(&["--loglevel", "warning", "extra"]).unwrap_err().to_string(),
        format!("{header}Reading the command line, at argument '--loglevel'\n>>> 'loglevel \"warning\" \"extra\"'\nwrong number of arguments")
    );
    let dir = TempDir::new();
    let path = dir.write("redis.conf", "");
    assert_eq!(
        invoke(&[path.to_str().unwrap(), "stray"]).unwrap_err().to_string(),
        format!("{header}Reading the command line, at argument 'stray'\n>>> '\"stray\"'\nBad directive or wrong number of arguments")
    );
}

#[test]
fn version_help_and_stdin() {
    assert_eq!(invoke(&["-v"]).unwrap(), Invocation::Version);
    assert_eq!(invoke(&["--version", "x"]).unwrap(), Invocation::Version);
    assert_eq!(invoke(&["-h"]).unwrap(), Invocation::Help);
    assert_eq!(invoke(&["--help"]).unwrap(), Invocation::Help);
    let from_stdin = invoke_with_stdin(&["-", "--timeout", "7"], "port 7200\ntimeout 1\n").unwrap();
    let Invocation::Run {
        settings,
        config_file,
    } = from_stdin
    else {
        panic!("not a run")
    };
    assert_eq!(
        (settings.port, settings.timeout_secs, config_file),
        (7200, 7, None)
    );
    let last = invoke_with_stdin(&["--timeout", "7", "-"], "hz 20\n").unwrap();
    let Invocation::Run { settings, .. } = last else {
        panic!("not a run")
    };
    assert_eq!((settings.hz, settings.timeout_secs), (20, 7));
    assert_eq!(
        invoke_with_stdin(&["-"], "port x\n")
            .unwrap_err()
            .to_string(),
        fatal(1, "port x", "argument couldn't be parsed into an integer")
    );
}

#[test]
fn config_get_patterns_and_names() {
    let live = LiveConfig::new(Settings::default());
    assert_eq!(pairs(live.get(&args(&["port"]))), [pair("port", "6379")]);
    assert_eq!(pairs(live.get(&args(&["TIMEOUT"]))), [pair("TIMEOUT", "0")]);
    assert_eq!(
        pairs(live.get(&args(&["p*", "port", "bind"]))),
        [
            pair("port", "6379"),
            pair("protected-mode", "yes"),
            pair("pidfile", ""),
            pair("proto-max-bulk-len", "536870912"),
            pair("bind", "127.0.0.1 -::1"),
        ]
    );
    assert_eq!(
        pairs(live.get(&args(&[
            "T[I]MEOUT",
            "daemonize",
            "loglevel",
            "requirepass"
        ]))),
        [
            pair("timeout", "0"),
            pair("daemonize", "no"),
            pair("loglevel", "notice"),
            pair("requirepass", ""),
        ]
    );
    assert_eq!(pairs(live.get(&args(&["nosuch", "x*"]))), []);
    let all = pairs(live.get(&args(&["*"])));
    assert_eq!(
        all.len(),
        121,
        "18 directives, 4 exposure directives, 5 RDB directives, 9 AOF directives, 8 thresholds, 7 memory settings, \
         17 replication directives, 3 ACL directives, 18 cluster directives, 15 TLS directives and 17 aliases"
    );
    assert!(all.contains(&pair("save", "3600 1 300 100 60 10000")));
    assert!(all.contains(&pair("appendfsync", "everysec")));
    assert!(all.contains(&pair("appenddirname", "appendonlydir")));
    let cwd = std::env::current_dir().unwrap();
    assert!(all.contains(&pair("dir", &cwd.display().to_string())));
    assert!(all.contains(&pair("client-query-buffer-limit", "1073741824")));
}

#[test]
fn config_set_applies_all_or_nothing() {
    let live = LiveConfig::new(Settings::default());
    let changed = live
        .set(
            &args(&[
                "TIMEOUT",
                "5",
                "maxclients",
                "100",
                "hz",
                "1000",
                "loglevel",
                "Debug",
            ]),
            &local_peer(),
        )
        .unwrap();
    assert_eq!(changed, ["timeout", "maxclients", "hz", "loglevel"]);
    let settings = live.snapshot();
    assert_eq!(
        (
            settings.timeout_secs,
            settings.maxclients,
            settings.hz,
            settings.loglevel
        ),
        (5, 100, 500, LogLevel::Debug)
    );
    assert_eq!(
        set_error(&live, &["timeout", "6", "hz", "abc"]),
        "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        live.read().timeout_secs,
        5,
        "the valid pair was not applied"
    );
    live.set(
        &args(&["requirepass", "pw", "proto-max-bulk-len", "2mb"]),
        &local_peer(),
    )
    .unwrap();
    assert_eq!(live.read().requirepass.as_deref(), Some("pw"));
    assert_eq!(live.read().proto_max_bulk_len, 2 * 1024 * 1024);
    live.set(&args(&["requirepass", ""]), &local_peer())
        .unwrap();
    assert_eq!(live.read().requirepass, None);
}

#[test]
fn config_set_errors_are_redis_words() {
    let live = LiveConfig::new(Settings::default());
    assert_eq!(
        set_error(&live, &["FOO", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'FOO'"
    );
    assert_eq!(
        set_error(&live, &["TIMEOUT", "abc"]),
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
    );
    for immutable in [
        "port",
        "bind",
        "databases",
        "io-threads",
        "daemonize",
        "tcp-backlog",
        "logfile",
        "pidfile",
    ] {
        assert_eq!(
            set_error(&live, &[immutable, "1"]),
            format!("ERR CONFIG SET failed (possibly related to argument '{immutable}') - can't set immutable config")
        );
    }
    assert_eq!(
        set_error(&live, &["dir", "/tmp"]),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        set_error(&live, &["timeout", "abc", "databases", "3"]),
        "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
    );
    assert_eq!(
        set_error(&live, &["timeout", "1", "TimeOut", "2"]),
        "ERR CONFIG SET failed (possibly related to argument 'TimeOut') - duplicate parameter"
    );
    assert_eq!(
        set_error(&live, &["timeout", "1", "hz"]),
        "ERR syntax error"
    );
    assert_eq!(
        set_error(&live, &[]),
        "ERR wrong number of arguments for 'config|set' command"
    );
    assert_eq!(
        set_error(&live, &["maxclients", "0"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"
    );
    assert_eq!(
        set_error(&live, &["proto-max-bulk-len", "1.5mb"]),
        "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be a memory value"
    );
    assert_eq!(live.snapshot(), Settings::default());
}

#[test]
fn log_level_names_round_trip() {
    for level in LogLevel::ALL {
        assert_eq!(LogLevel::from_name(level.name().as_bytes()), Some(level));
    }
    assert_eq!(LogLevel::from_name(b"NOTICE"), Some(LogLevel::Notice));
    assert_eq!(LogLevel::from_name(b"loud"), None);
}

#[test]
fn encoding_thresholds_round_trip_under_both_names() {
    let live = LiveConfig::new(Settings::default());
    assert_eq!(
        pairs(live.get(&args(&["*-max-*-entries"]))),
        [
            pair("hash-max-listpack-entries", "128"),
            pair("set-max-intset-entries", "512"),
            pair("set-max-listpack-entries", "128"),
            pair("zset-max-listpack-entries", "128"),
            pair("hash-max-ziplist-entries", "128"),
            pair("zset-max-ziplist-entries", "128"),
        ]
    );
    let changed = live
        .set(
            &args(&[
                "hash-max-ziplist-entries",
                "7",
                "zset-max-listpack-value",
                "1kb",
                "list-max-ziplist-size",
                "-5",
                "set-max-intset-entries",
                "0",
            ]),
            &local_peer(),
        )
        .unwrap();
    assert_eq!(
        changed,
        [
            "hash-max-listpack-entries",
            "zset-max-listpack-value",
            "list-max-listpack-size",
            "set-max-intset-entries"
        ]
    );
    let encodings = live.read().encodings;
    assert_eq!(
        (
            encodings.hash_max_listpack_entries,
            encodings.zset_max_listpack_value,
            encodings.list_max_listpack_size,
            encodings.set_max_intset_entries
        ),
        (7, 1024, -5, 0)
    );
    assert_eq!(
        pairs(live.get(&args(&[
            "hash-max-listpack-entries",
            "HASH-MAX-ZIPLIST-ENTRIES",
            "list-max-ziplist-size",
            "zset-max-ziplist-value"
        ]))),
        [
            pair("hash-max-listpack-entries", "7"),
            pair("HASH-MAX-ZIPLIST-ENTRIES", "7"),
            pair("list-max-ziplist-size", "-5"),
            pair("zset-max-ziplist-value", "1024"),
        ]
    );
    let file = load("hash-max-ziplist-value 100\nset-max-listpack-value 9\n").unwrap();
    assert_eq!(
        (
            file.encodings.hash_max_listpack_value,
            file.encodings.set_max_listpack_value
        ),
        (100, 9)
    );
}

#[test]
fn encoding_thresholds_refuse_bad_values_in_redis_words() {
    let live = LiveConfig::new(Settings::default());
    let failed = |name: &str, reason: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
    };
    assert_eq!(
        set_error(&live, &["hash-max-listpack-entries", "-1"]),
        failed(
            "hash-max-listpack-entries",
            "argument must be between 0 and 9223372036854775807 inclusive"
        )
    );
    assert_eq!(
        set_error(&live, &["set-max-intset-entries", "many"]),
        failed(
            "set-max-intset-entries",
            "argument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        set_error(&live, &["hash-max-ziplist-value", "-1"]),
        failed("hash-max-listpack-value", "argument must be a memory value")
    );
    assert_eq!(
        set_error(&live, &["list-max-listpack-size", "2147483648"]),
        failed(
            "list-max-listpack-size",
            "argument must be between -2147483648 and 2147483647 inclusive"
        )
    );
    assert_eq!(
        set_error(
            &live,
            &["list-max-listpack-size", "1", "list-max-ziplist-size", "2"]
        ),
        failed("list-max-ziplist-size", "duplicate parameter")
    );
    assert_eq!(live.snapshot(), Settings::default());
}

#[test]
fn replication_directives_and_their_old_names() {
    let settings = load(
        "slaveof 10.0.0.1 6380\nmasterauth pw\nmasteruser app\nrepl-backlog-size 16mb\n\
         repl-backlog-ttl 0\nrepl-ping-slave-period 3\nrepl-timeout 20\n\
         repl-diskless-sync no\nslave-read-only no\nreplica-serve-stale-data no\n\
         slave-priority 7\nreplica-announce-ip 10.1.1.1\nreplica-announce-port 7000\n\
         replica-announced no\nmin-slaves-to-write 2\nmin-replicas-max-lag 5\n\
         client-output-buffer-limit \"replica 1mb 512kb 9\"\n",
    )
    .unwrap();
    assert_eq!(
        settings.repl,
        super::ReplSettings {
            replicaof: Some(("10.0.0.1".into(), 6380)),
            masterauth: Some("pw".into()),
            masteruser: Some("app".into()),
            backlog_bytes: 16 * 1024 * 1024,
            backlog_ttl_secs: 0,
            ping_period_secs: 3,
            timeout_secs: 20,
            diskless_sync: false,
            read_only: false,
            serve_stale_data: false,
            priority: 7,
            announce_ip: "10.1.1.1".into(),
            announce_port: 7000,
            announced: false,
            min_replicas_to_write: 2,
            min_replicas_max_lag_secs: 5,
            output_hard_bytes: 1024 * 1024,
            output_soft_bytes: 512 * 1024,
            output_soft_secs: 9,
        }
    );
    let no_one = load("replicaof 10.0.0.1 6380\nreplicaof no one\n").unwrap();
    assert_eq!(no_one.repl.replicaof, None);
    assert!(load("replicaof host 0\n").is_err());
    assert!(load("client-output-buffer-limit \"master 1mb 1mb 1\"\n").is_err());
}

#[test]
fn output_buffer_limits_take_every_class_and_render_as_redis() {
    let defaults = Settings::default();
    let rendered = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
    let config = LiveConfig::new(defaults);
    assert_eq!(
        config.get(&[Bytes::from_static(b"client-output-buffer-limit")]),
        Reply::Map(vec![(
            Reply::bulk(&b"client-output-buffer-limit"[..]),
            Reply::text(rendered)
        )])
    );
    let settings = load(
        "client-output-buffer-limit normal 1mb 512kb 5\n\
         client-output-buffer-limit pubsub 2mb 1mb 3 slave 0 0 0\n",
    )
    .unwrap();
    let limit = |hard_bytes, soft_bytes, soft_secs| super::OutputLimit {
        hard_bytes,
        soft_bytes,
        soft_secs,
    };
    assert_eq!(settings.normal_output, limit(1024 * 1024, 512 * 1024, 5));
    assert_eq!(
        settings.pubsub_output,
        limit(2 * 1024 * 1024, 1024 * 1024, 3)
    );
    assert_eq!(settings.repl.output_hard_bytes, 0);
    assert!(load("client-output-buffer-limit normal 1mb 512kb\n").is_err());
    assert!(load("client-output-buffer-limit normal x 512kb 1\n").is_err());
}

#[test]
fn cluster_directives_take_redis_values_and_defaults() {
    let defaults = ClusterSettings::default();
    assert!(!defaults.enabled);
    assert_eq!(defaults.config_file, "nodes.conf");
    assert_eq!(defaults.node_timeout_ms, 15_000);
    assert_eq!(defaults.bus_port(6379), Some(16379));
    assert_eq!(defaults.bus_port(60000), None);
    assert!(defaults.require_full_coverage && defaults.allow_pubsubshard_when_down);
    assert!(!defaults.allow_reads_when_down && !defaults.replica_no_failover);
    let settings = load(
        "cluster-enabled yes\ncluster-config-file n7000.conf\ncluster-node-timeout 5000\n\
         cluster-port 17777\ncluster-announce-ip 10.1.2.3\ncluster-announce-port 7100\n\
         cluster-announce-tls-port 7200\ncluster-announce-bus-port 17100\n\
         cluster-announce-hostname node-1.example\ncluster-preferred-endpoint-type HOSTNAME\n\
         cluster-require-full-coverage no\ncluster-slave-validity-factor 3\n\
         cluster-migration-barrier 2\ncluster-allow-replica-migration no\n\
         cluster-replica-no-failover yes\ncluster-allow-reads-when-down yes\n\
         cluster-allow-pubsubshard-when-down no\ncluster-link-sendbuf-limit 1mb\n",
    )
    .unwrap();
    assert_eq!(
        settings.cluster,
        ClusterSettings {
            enabled: true,
            config_file: "n7000.conf".into(),
            node_timeout_ms: 5000,
            port: 17777,
            announce_ip: "10.1.2.3".into(),
            announce_port: 7100,
            announce_tls_port: 7200,
            announce_bus_port: 17100,
            announce_hostname: "node-1.example".into(),
            preferred_endpoint_type: crate::cluster::EndpointType::Hostname,
            require_full_coverage: false,
            replica_validity_factor: 3,
            migration_barrier: 2,
            allow_replica_migration: false,
            replica_no_failover: true,
            allow_reads_when_down: true,
            allow_pubsubshard_when_down: false,
            link_sendbuf_limit_bytes: 1024 * 1024,
        }
    );
    assert_eq!(settings.cluster.bus_port(7000), Some(17777));
    for (line, reason) in [
        (
            "cluster-announce-hostname a_b",
            "Hostnames may only contain alphanumeric characters, hyphens or dots",
        ),
        (
            "cluster-preferred-endpoint-type dns",
            "argument(s) must be one of the following: ip, hostname, unknown-endpoint",
        ),
        (
            "cluster-port 65536",
            "argument must be between 0 and 65535 inclusive",
        ),
        ("cluster-enabled maybe", "argument must be 'yes' or 'no'"),
    ] {
        assert_eq!(
            load(&format!("{line}\n")).unwrap_err(),
            fatal(1, line, reason)
        );
    }
    let long = format!("cluster-announce-hostname {}\n", "a".repeat(256));
    assert!(load(&long)
        .unwrap_err()
        .ends_with("Hostnames must be less than 256 characters"));
}

#[test]
fn cluster_mode_and_its_ports_are_fixed_at_start() {
    let live = LiveConfig::new(Settings::default());
    for immutable in ["cluster-enabled", "cluster-config-file", "cluster-port"] {
        assert_eq!(
            set_error(&live, &[immutable, "1"]),
            format!("ERR CONFIG SET failed (possibly related to argument '{immutable}') - can't set immutable config")
        );
    }
    let set = |pairs: &[&str]| {
        let args: Vec<Bytes> = pairs.iter().map(|w| Bytes::from(w.to_string())).collect();
        live.set(&args, &local_peer()).map_err(|e| e.to_string())
    };
    set(&[
        "cluster-allow-reads-when-down",
        "yes",
        "cluster-node-timeout",
        "100",
    ])
    .unwrap();
    let settings = live.snapshot();
    assert!(settings.cluster.allow_reads_when_down);
    assert_eq!(settings.cluster.node_timeout_ms, 100);
    assert_eq!(
        live.get(&[Bytes::from_static(b"cluster-preferred-endpoint-type")]),
        Reply::Map(vec![(
            Reply::bulk(&b"cluster-preferred-endpoint-type"[..]),
            Reply::text("ip")
        )])
    );
}

/// A loopback client address, as CONFIG SET is given the caller's.
fn local_peer() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 40_000))
}

#[test]
fn exposure_directives_take_redis_values() {
    let live = LiveConfig::new(Settings::default());
    assert_eq!(
        pairs(live.get(&args(&["enable-*", "bind-source-addr", "protected-mode"]))),
        [
            pair("enable-debug-command", "no"),
            pair("enable-protected-configs", "no"),
            pair("bind-source-addr", ""),
            pair("protected-mode", "yes"),
        ]
    );
    assert_eq!(
        set_error(&live, &["enable-debug-command", "yes"]),
        "ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config"
    );
    assert_eq!(
        set_error(&live, &["bind-source-addr", "nowhere"]),
        "ERR CONFIG SET failed (possibly related to argument 'bind-source-addr') - argument must be an IP address"
    );
    live.set(
        &args(&["protected-mode", "no", "bind-source-addr", "::1"]),
        &local_peer(),
    )
    .unwrap();
    assert!(!live.read().protected_mode);
    assert_eq!(live.read().bind_source_addr, "::1");
    let error = load("enable-debug-command sometimes\n").unwrap_err();
    assert!(
        error.ends_with("argument(s) must be one of the following: no, yes, local"),
        "{error}"
    );
}

#[test]
fn protected_configs_follow_enable_protected_configs() {
    let remote = std::net::SocketAddr::from(([10, 200, 0, 2], 40_000));
    let refused =
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config";
    let dir = std::env::temp_dir().display().to_string();
    for (permission, local_ok, remote_ok) in [
        (Permission::No, false, false),
        (Permission::Local, true, false),
        (Permission::Yes, true, true),
    ] {
        let live = LiveConfig::new(Settings {
            enable_protected_configs: permission,
            ..Settings::default()
        });
        for (peer, allowed) in [(local_peer(), local_ok), (remote, remote_ok)] {
            let outcome = live.set(&args(&["dir", &dir]), &peer);
            match allowed {
                true => assert!(outcome.is_ok(), "{permission:?} from {peer}"),
                false => assert_eq!(outcome.unwrap_err().to_string(), refused),
            }
        }
    }
}

#[test]
fn rename_command_lines_are_checked_in_order() {
    let error = load("rename-command nosuch x\n").unwrap_err();
    assert!(
        error.ends_with("No such command in rename-command"),
        "{error}"
    );
    let error = load("rename-command get set\n").unwrap_err();
    assert!(
        error.ends_with("Target command name already exists"),
        "{error}"
    );
    let error = load("rename-command get\n").unwrap_err();
    assert!(
        error.ends_with("Bad directive or wrong number of arguments"),
        "{error}"
    );
    let settings = load("rename-command get fetch\nrename-command fetch obtain\n").unwrap();
    assert_eq!(settings.renamed_commands.len(), 2);
}

/// What the redis_conf fuzz target checks, at the defaults and after a file with spaces in its
/// values (`bind` with two addresses first showed the file form and CONFIG SET differ): every
/// CONFIG GET value is accepted back by CONFIG SET and changes nothing.
#[test]
fn every_config_get_value_sets_back_unchanged() {
    let from_file = load(
        "bind 127.0.0.1 -::1\nsave 3600 1 300 100\nclient-output-buffer-limit normal 1mb 1kb 3\n\
         notify-keyspace-events KEA\nrequirepass \"a b\"\n",
    )
    .unwrap();
    for settings in [Settings::default(), from_file] {
        let live = LiveConfig::new(settings.clone());
        let Reply::Map(pairs) = live.get(&[Bytes::from_static(b"*")]) else {
            panic!("CONFIG GET * is not a map");
        };
        for (name, value) in pairs {
            let word = |reply: Reply| match reply {
                Reply::Bulk(bytes) => bytes,
                Reply::Simple(text) => Bytes::from(text),
                other => panic!("not text: {other:?}"),
            };
            let (name, value) = (word(name), word(value));
            match live.set(&[name.clone(), value.clone()], &local_peer()) {
                Ok(_) => assert!(live.snapshot() == settings, "{name:?} {value:?} changed"),
                Err(error) => {
                    let error = error.to_string();
                    let fixed = error.contains("immutable") || error.contains("protected");
                    assert!(fixed, "{name:?} {value:?}: {error}");
                }
            }
        }
    }
}

#[test]
fn tls_directives_are_read_checked_and_printed() {
    let mut settings = Settings::default();
    for (name, value) in [
        ("tls-port", "6380"),
        ("tls-auth-clients", "optional"),
        ("tls-protocols", "TLSv1.2 TLSv1.3"),
        ("tls-ciphersuites", "TLS_AES_256_GCM_SHA384"),
        ("tls-ciphers", "ECDHE-RSA-AES256-GCM-SHA384"),
        ("tls-replication", "yes"),
        ("tls-cluster", "yes"),
    ] {
        apply_directive(&mut settings, name.as_bytes(), &[value.as_bytes()]).unwrap();
    }
    assert_eq!(settings.tls.port, 6380);
    assert_eq!(settings.tls.auth_clients, crate::tls::AuthClients::Optional);
    assert!(settings.tls.replication && settings.tls.cluster);
    assert_eq!(
        apply_directive(&mut settings, b"tls-auth-clients", &[b"maybe"]).unwrap_err(),
        "argument(s) must be one of the following: no, yes, optional"
    );
    assert!(
        apply_directive(&mut settings, b"tls-protocols", &[b"TLSv1"])
            .unwrap_err()
            .contains("TLSv1.2 and TLSv1.3 only")
    );
    assert!(
        apply_directive(&mut settings, b"tls-ciphers", &[b"RC4-MD5"])
            .unwrap_err()
            .contains("RC4-MD5")
    );
    let live = LiveConfig::new(settings);
    assert_eq!(
        live.get(&args(&["tls-auth-clients"])),
        Reply::Map(vec![(
            Reply::bulk(&b"tls-auth-clients"[..]),
            Reply::text("optional".to_owned())
        )])
    );
    assert!(matches!(
        live.set(&args(&["tls-port", "6381"]), &local_peer()),
        Err(error) if error.to_string().contains("can't set immutable config")
    ));
}
