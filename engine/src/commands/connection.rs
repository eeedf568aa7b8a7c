//! Commands the server answers itself because they need the connection or the process (client
//! names, the protocol version, INFO, CONFIG, shutdown). They are listed here, with
//! [`Handler::Server`], so the one command table still describes every command for COMMAND,
//! arity checks and ACL categories.

use crate::command::{CommandSpec, Flags, Group, Handler, KeyRange, MovableKeys};

const ADMIN: Flags = Flags::ADMIN
    .and(Flags::NOSCRIPT)
    .and(Flags::LOADING)
    .and(Flags::STALE);
const CONNECTION: Flags = Flags::NOSCRIPT.and(Flags::LOADING).and(Flags::STALE);
/// COMMAND and LASTSAVE: like [`CONNECTION`], but Redis lets scripts call them.
const INTROSPECTION: Flags = Flags::LOADING.and(Flags::STALE);

/// A row of a command the server answers (no keys): for every family the server handles.
pub(crate) const fn server(
    name: &'static str,
    arity: i32,
    flags: Flags,
    group: Group,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, Handler::Server)
        .flags(flags)
        .keys(KeyRange::NONE)
        .doc(group, since, summary)
}

static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    server(
        "client|id",
        2,
        CONNECTION,
        Group::Connection,
        "5.0.0",
        "Returns the unique client ID of the connection.",
    ),
    server(
        "client|setname",
        3,
        CONNECTION,
        Group::Connection,
        "2.6.9",
        "Sets the connection name.",
    ),
    server(
        "client|getname",
        2,
        CONNECTION,
        Group::Connection,
        "2.6.9",
        "Returns the name of the connection.",
    ),
    server(
        "client|list",
        -2,
        ADMIN,
        Group::Connection,
        "2.4.0",
        "Lists open connections.",
    ),
    server(
        "client|info",
        2,
        CONNECTION,
        Group::Connection,
        "6.2.0",
        "Returns information about the connection.",
    ),
    server(
        "client|kill",
        -3,
        ADMIN,
        Group::Connection,
        "2.4.0",
        "Terminates open connections.",
    ),
    server(
        "client|unblock",
        -3,
        ADMIN,
        Group::Connection,
        "5.0.0",
        "Unblocks a client blocked by a blocking command from a different connection.",
    ),
    server(
        "client|help",
        2,
        Flags::LOADING.and(Flags::STALE),
        Group::Connection,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    server(
        "config|get",
        -3,
        ADMIN,
        Group::Server,
        "2.0.0",
        "Returns the effective values of configuration parameters.",
    ),
    server(
        "config|set",
        -4,
        ADMIN,
        Group::Server,
        "2.0.0",
        "Sets configuration parameters in-flight.",
    ),
    server(
        "config|resetstat",
        2,
        ADMIN,
        Group::Server,
        "2.0.0",
        "Resets the server's statistics.",
    ),
    server(
        "config|rewrite",
        2,
        ADMIN,
        Group::Server,
        "2.8.0",
        "Persists the effective configuration to file.",
    ),
    server(
        "config|help",
        2,
        Flags::LOADING.and(Flags::STALE),
        Group::Server,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

/// Flags of ACL's subcommands that only read connection or table state (CAT, GENPASS,
/// WHOAMI, HELP): no `admin`, as in Redis.
const ACL_INFO: Flags = CONNECTION;

static ACL_SUBCOMMANDS: &[CommandSpec] = &[
    server(
        "acl|cat",
        -2,
        ACL_INFO,
        Group::Server,
        "6.0.0",
        "Lists the ACL categories, or the commands inside a category.",
    ),
    server(
        "acl|deluser",
        -3,
        ADMIN,
        Group::Server,
        "6.0.0",
        "Deletes ACL users, and terminates their connections.",
    ),
    server(
        "acl|dryrun",
        -4,
        ADMIN,
        Group::Server,
        "7.0.0",
        "Simulates the execution of a command by a user, without executing the command.",
    ),
    server(
        "acl|genpass",
        -2,
        ACL_INFO,
        Group::Server,
        "6.0.0",
        "Generates a pseudorandom, secure password that can be used to identify ACL users.",
    ),
    server(
        "acl|getuser",
        3,
        ADMIN,
        Group::Server,
        "6.0.0",
        "Lists the ACL rules of a user.",
    ),
    server(
        "acl|list",
        2,
        ADMIN,
        Group::Server,
        "6.0.0",
        "Dumps the effective rules in ACL file format.",
    ),
    server(
        "acl|load",
        2,
        ADMIN,
        Group::Server,
        "6.0.0",
        "Reloads the rules from the configured ACL file.",
    ),
    server(
        "acl|log",
        -2,
        ADMIN,
        Group::Server,
        "6.0.0",
        "Lists recent security events generated due to ACL rules.",
    ),
    server(
        "acl|save",
        2,
        ADMIN,
        Group::Server,
        "6.0.0",
        "Saves the effective ACL rules in the configured ACL file.",
    ),
    server(
        "acl|setuser",
        -3,
        ADMIN,
        Group::Server,
        "6.0.0",
        "Creates and modifies an ACL user and its rules.",
    ),
    server(
        "acl|users",
        2,
        ADMIN,
        Group::Server,
        "6.0.0",
        "Lists all ACL users.",
    ),
    server(
        "acl|whoami",
        2,
        ACL_INFO,
        Group::Server,
        "6.0.0",
        "Returns the authenticated username of the current connection.",
    ),
    server(
        "acl|help",
        2,
        Flags::LOADING.and(Flags::STALE),
        Group::Server,
        "6.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    server(
        "command|count",
        2,
        INTROSPECTION,
        Group::Server,
        "2.8.13",
        "Returns a count of commands.",
    ),
    server(
        "command|info",
        -2,
        INTROSPECTION,
        Group::Server,
        "2.8.13",
        "Returns information about one, multiple or all commands.",
    ),
    server(
        "command|docs",
        -2,
        INTROSPECTION,
        Group::Server,
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
    ),
    server(
        "command|getkeys",
        -3,
        INTROSPECTION,
        Group::Server,
        "2.8.13",
        "Extracts the key names from an arbitrary command.",
    ),
    server(
        "command|list",
        -2,
        INTROSPECTION,
        Group::Server,
        "7.0.0",
        "Returns a list of command names.",
    ),
    server(
        "command|help",
        2,
        Flags::LOADING.and(Flags::STALE),
        Group::Server,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

/// Flags of the subscribe family. Redis lets them into MULTI; EXEC's reply then holds one
/// element per channel (slotkv counts them all in its length, where Redis counts commands).
const SUBSCRIBE: Flags = Flags::PUBSUB.and(CONNECTION);
/// Flags of PUBLISH and SPUBLISH.
const PUBLISH: Flags = Flags::PUBSUB
    .and(Flags::LOADING)
    .and(Flags::STALE)
    .and(Flags::FAST)
    .and(Flags::MAY_REPLICATE);

static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    server(
        "pubsub|channels",
        -2,
        Flags::PUBSUB.and(Flags::LOADING).and(Flags::STALE),
        Group::PubSub,
        "2.8.0",
        "Returns the active channels.",
    ),
    server(
        "pubsub|numsub",
        -2,
        Flags::PUBSUB.and(Flags::LOADING).and(Flags::STALE),
        Group::PubSub,
        "2.8.0",
        "Returns a count of subscribers to channels.",
    ),
    server(
        "pubsub|numpat",
        2,
        Flags::PUBSUB.and(Flags::LOADING).and(Flags::STALE),
        Group::PubSub,
        "2.8.0",
        "Returns a count of unique pattern subscriptions.",
    ),
    server(
        "pubsub|shardchannels",
        -2,
        Flags::PUBSUB.and(Flags::LOADING).and(Flags::STALE),
        Group::PubSub,
        "7.0.0",
        "Returns the active shard channels.",
    ),
    server(
        "pubsub|shardnumsub",
        -2,
        Flags::PUBSUB.and(Flags::LOADING).and(Flags::STALE),
        Group::PubSub,
        "7.0.0",
        "Returns the count of subscribers of shard channels.",
    ),
    server(
        "pubsub|help",
        2,
        Flags::LOADING.and(Flags::STALE),
        Group::PubSub,
        "6.2.0",
        "Returns helpful text about the different subcommands.",
    ),
];

/// Flags of MULTI, DISCARD, WATCH and UNWATCH in Redis 7.
const TRANSACTION: Flags = CONNECTION.and(Flags::FAST).and(Flags::ALLOW_BUSY);

/// Flags of READONLY and READWRITE in Redis 7.
const CLUSTER_CONNECTION: Flags = Flags::FAST.and(Flags::LOADING).and(Flags::STALE);

pub(crate) static COMMANDS: &[CommandSpec] = &[
    server(
        "readonly",
        1,
        CLUSTER_CONNECTION,
        Group::Cluster,
        "3.0.0",
        "Enables read-only queries for a connection to a Redis Cluster replica node.",
    ),
    server(
        "readwrite",
        1,
        CLUSTER_CONNECTION,
        Group::Cluster,
        "3.0.0",
        "Enables read-write queries for a connection to a Redis Cluster replica node.",
    ),
    server(
        "asking",
        1,
        Flags::FAST,
        Group::Cluster,
        "3.0.0",
        "Signals that a cluster client is following an -ASK redirect.",
    ),
    server(
        "migrate",
        -6,
        Flags::WRITE.and(Flags::MOVABLE_KEYS),
        Group::Generic,
        "2.6.0",
        "Atomically transfers a key from one Redis instance to another.",
    )
    .keys(KeyRange::new(3, 3, 1))
    .movable_keys(MovableKeys::Migrate),
    server(
        "subscribe",
        -2,
        SUBSCRIBE,
        Group::PubSub,
        "2.0.0",
        "Listens for messages published to channels.",
    ),
    server(
        "unsubscribe",
        -1,
        SUBSCRIBE,
        Group::PubSub,
        "2.0.0",
        "Stops listening to messages posted to channels.",
    ),
    server(
        "psubscribe",
        -2,
        SUBSCRIBE,
        Group::PubSub,
        "2.0.0",
        "Listens for messages published to channels that match one or more patterns.",
    ),
    server(
        "punsubscribe",
        -1,
        SUBSCRIBE,
        Group::PubSub,
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
    ),
    server(
        "ssubscribe",
        -2,
        SUBSCRIBE,
        Group::PubSub,
        "7.0.0",
        "Listens for messages published to shard channels.",
    )
    .keys(KeyRange::ALL),
    server(
        "sunsubscribe",
        -1,
        SUBSCRIBE,
        Group::PubSub,
        "7.0.0",
        "Stops listening to messages posted to shard channels.",
    )
    .keys(KeyRange::ALL),
    server(
        "publish",
        3,
        PUBLISH,
        Group::PubSub,
        "2.0.0",
        "Posts a message to a channel.",
    ),
    server(
        "spublish",
        3,
        PUBLISH,
        Group::PubSub,
        "7.0.0",
        "Post a message to a shard channel.",
    )
    .keys(KeyRange::FIRST),
    server(
        "pubsub",
        -2,
        Flags::NONE,
        Group::PubSub,
        "2.8.0",
        "A container for Pub/Sub commands.",
    )
    .subcommands(PUBSUB_SUBCOMMANDS),
    server(
        "multi",
        1,
        TRANSACTION,
        Group::Transactions,
        "1.2.0",
        "Starts a transaction.",
    ),
    server(
        "exec",
        1,
        CONNECTION.and(Flags::SKIP_SLOWLOG),
        Group::Transactions,
        "1.2.0",
        "Executes all commands in a transaction.",
    ),
    server(
        "discard",
        1,
        TRANSACTION,
        Group::Transactions,
        "2.0.0",
        "Discards a transaction.",
    ),
    server(
        "watch",
        -2,
        TRANSACTION,
        Group::Transactions,
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
    )
    .keys(KeyRange::ALL),
    server(
        "unwatch",
        1,
        TRANSACTION,
        Group::Transactions,
        "2.2.0",
        "Forgets about watched keys of a transaction.",
    ),
    server(
        "client",
        -2,
        Flags::NONE,
        Group::Connection,
        "2.4.0",
        "A container for client connection commands.",
    )
    .subcommands(CLIENT_SUBCOMMANDS),
    server(
        "config",
        -2,
        Flags::NONE,
        Group::Server,
        "2.0.0",
        "A container for server configuration commands.",
    )
    .subcommands(CONFIG_SUBCOMMANDS),
    server(
        "acl",
        -2,
        Flags::NONE,
        Group::Server,
        "6.0.0",
        "A container for Access List Control commands.",
    )
    .subcommands(ACL_SUBCOMMANDS),
    server(
        "command",
        -1,
        INTROSPECTION,
        Group::Server,
        "2.8.13",
        "Returns detailed information about all commands.",
    )
    .subcommands(COMMAND_SUBCOMMANDS),
    server(
        "info",
        -1,
        Flags::LOADING.and(Flags::STALE),
        Group::Server,
        "1.0.0",
        "Returns information and statistics about the server.",
    ),
    server(
        "hello",
        -1,
        CONNECTION
            .and(Flags::FAST)
            .and(Flags::NO_AUTH)
            .and(Flags::ALLOW_BUSY),
        Group::Connection,
        "6.0.0",
        "Handshakes with the Redis server.",
    ),
    server(
        "auth",
        -2,
        CONNECTION
            .and(Flags::FAST)
            .and(Flags::NO_AUTH)
            .and(Flags::ALLOW_BUSY),
        Group::Connection,
        "1.0.0",
        "Authenticates the connection.",
    ),
    server(
        "quit",
        -1,
        CONNECTION
            .and(Flags::FAST)
            .and(Flags::NO_AUTH)
            .and(Flags::ALLOW_BUSY),
        Group::Connection,
        "1.0.0",
        "Closes the connection.",
    ),
    server(
        "shutdown",
        -1,
        ADMIN.and(Flags::NO_MULTI).and(Flags::ALLOW_BUSY),
        Group::Server,
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
    ),
    server(
        "save",
        1,
        ADMIN.and(Flags::NO_MULTI),
        Group::Server,
        "1.0.0",
        "Synchronously saves the database(s) to disk.",
    ),
    server(
        "bgsave",
        -1,
        ADMIN,
        Group::Server,
        "1.0.0",
        "Asynchronously saves the database(s) to disk.",
    ),
    server(
        "lastsave",
        1,
        INTROSPECTION.and(Flags::FAST),
        Group::Server,
        "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
    ),
    server(
        "bgrewriteaof",
        1,
        ADMIN.and(Flags::NOSCRIPT),
        Group::Server,
        "1.0.0",
        "Asynchronously rewrites the append-only file to disk.",
    ),
    server(
        "debug",
        -2,
        ADMIN,
        Group::Server,
        "1.0.0",
        "A container for debugging commands.",
    ),
];
