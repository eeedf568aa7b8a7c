//! Command family scaffold: its helper replaces this file.

use crate::command::CommandSpec;

pub(crate) static COMMANDS: &[CommandSpec] = &[];
