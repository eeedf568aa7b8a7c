//! Errors a command can answer with, each mapped to Redis's exact error line (prefix and text),
//! so clients that match on `WRONGTYPE`, `ERR syntax error` and friends keep working.

use std::fmt;

/// A command's failure, rendered by `Display` as the RESP error line without the leading `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// `ERR unknown command '<name>', with args beginning with: ...`
    UnknownCommand { name: String, args_preview: String },
    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    UnknownSubcommand { command: String, subcommand: String },
    /// `ERR wrong number of arguments for '<name>' command`
    WrongArity(String),
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `ERR syntax error`
    Syntax,
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR increment or decrement would overflow`
    Overflow,
    /// `ERR increment would produce NaN or Infinity`
    NanOrInfinity,
    /// `ERR invalid expire time in '<cmd>' command`
    InvalidExpire(String),
    /// `ERR DB index is out of range`
    DbIndexOutOfRange,
    /// `ERR invalid DB index`
    InvalidDbIndex,
    /// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`
    StringTooLong,
    /// `ERR offset is out of range`
    OffsetOutOfRange,
    /// `OOM command not allowed when used memory > 'maxmemory'.`
    OutOfMemory,
    /// Any other error line, verbatim (it must start with an upper-case prefix such as `ERR`).
    Other(String),
}

impl CommandError {
    /// An `ERR <message>` error.
    pub fn err(message: impl Into<String>) -> Self {
        let message = message.into();
        CommandError::Other(format!("ERR {message}"))
    }

    /// The error for an unknown command, quoting its first arguments as Redis does.
    pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> Self {
        let mut args_preview = String::new();
        for arg in args.iter().take(20) {
            let text = String::from_utf8_lossy(arg);
            let room = 128usize.saturating_sub(args_preview.len());
            args_preview.push('\'');
            args_preview.extend(text.chars().take(room));
            args_preview.push_str("' ");
        }
        CommandError::UnknownCommand {
            name: String::from_utf8_lossy(name).into_owned(),
            args_preview,
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::UnknownCommand { name, args_preview } => {
                write!(
                    f,
                    "ERR unknown command '{name}', with args beginning with: {args_preview}"
                )
            }
            CommandError::UnknownSubcommand {
                command,
                subcommand,
            } => write!(
                f,
                "ERR unknown subcommand '{subcommand}'. Try {} HELP.",
                command.to_ascii_uppercase()
            ),
            CommandError::WrongArity(name) => {
                write!(
                    f,
                    "ERR wrong number of arguments for '{}' command",
                    name.to_ascii_lowercase()
                )
            }
            CommandError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CommandError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CommandError::NotFloat => f.write_str("ERR value is not a valid float"),
            CommandError::Syntax => f.write_str("ERR syntax error"),
            CommandError::NoSuchKey => f.write_str("ERR no such key"),
            CommandError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CommandError::NanOrInfinity => {
                f.write_str("ERR increment would produce NaN or Infinity")
            }
            CommandError::InvalidExpire(cmd) => {
                write!(
                    f,
                    "ERR invalid expire time in '{}' command",
                    cmd.to_ascii_lowercase()
                )
            }
            CommandError::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            CommandError::InvalidDbIndex => f.write_str("ERR invalid DB index"),
            CommandError::StringTooLong => {
                f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            CommandError::OffsetOutOfRange => f.write_str("ERR offset is out of range"),
            CommandError::OutOfMemory => {
                f.write_str("OOM command not allowed when used memory > 'maxmemory'.")
            }
            CommandError::Other(line) => f.write_str(line),
        }
    }
}

impl std::error::Error for CommandError {}

/// A failure to open an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// A configuration value is outside what the engine supports.
    InvalidConfig(String),
    /// A background thread could not be started.
    Thread(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InvalidConfig(why) => write!(f, "invalid engine configuration: {why}"),
            OpenError::Thread(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for OpenError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_redis_error_lines() {
        assert_eq!(
            CommandError::WrongArity("GET".into()).to_string(),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            CommandError::unknown_command(b"foo", &[bytes::Bytes::from_static(b"a")]).to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' "
        );
        assert_eq!(
            CommandError::UnknownSubcommand {
                command: "client".into(),
                subcommand: "x".into()
            }
            .to_string(),
            "ERR unknown subcommand 'x'. Try CLIENT HELP."
        );
    }
}
