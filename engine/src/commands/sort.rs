//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted numerically or byte-wise,
//! by themselves or by values found in other keys (`BY weight_*`, `BY obj_*->field`), optionally
//! replaced by other keys' values (`GET obj_*`, `GET #`), windowed by LIMIT and, for SORT, stored
//! as a list (`STORE dst`).
//!
//! Redis 7's documented behaviour, with these choices:
//! - **Locking.** BY and GET name keys that depend on the elements, so they are only known once
//!   the source is read. The command locks the source (and destination), reads the elements,
//!   computes the slots of every key the patterns will read and, if some are not held, releases
//!   everything and locks the union again, until one pass holds every slot it needs. The whole
//!   command then runs under one set of locks: atomic, like Redis's single thread, at the cost of
//!   a second read of the source. Each retry adds at least one slot, so at most
//!   [`SLOT_COUNT`] retries can happen (in practice one).
//! - **Order.** Ties (equal scores, equal BY values, missing BY values) are broken by the
//!   elements' bytes, so the reply never depends on how a value is laid out in memory. ALPHA
//!   compares bytes (Redis's `strcoll` in the C locale).
//! - **Scores.** Parsed as Redis parses them with `strtod` over the whole text: leading
//!   whitespace is skipped, the text stops at a NUL, the empty text is 0, NaN and out-of-range
//!   values are refused. Hexadecimal floats (`0x1p3`), which glibc's `strtod` also reads, are
//!   refused, as the engine's other float parsers refuse them.
//! - **Propagation.** SORT ... STORE propagates the list it wrote (`DEL dst` if dst existed,
//!   then `RPUSH dst ...` in batches of [`STORE_RPUSH_BATCH`]), or `DEL dst` when an empty
//!   result removed it, not the SORT itself: a replica or an AOF replayed by Redis would sort
//!   ties, sets and expiring BY/GET keys its own way. Replies without STORE propagate nothing.

use std::cmp::Ordering;
use std::ops::Range;

use bytes::Bytes;

use crate::command::{
    is_keyword, parse_i64_arg, CommandSpec, Flags, Group, Handler, KeyRange, MovableKeys,
};
use crate::error::CommandError;
use crate::exec::{Ctx, Locks};
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;
use crate::slot::{key_slot, SLOT_COUNT};
use crate::types::list::{End, ListValue};
use crate::types::set::Member;
use crate::value::{parse_f64_in_range, Value};

/// SORT may STORE: it is a write, and its BY/GET patterns name keys the triple cannot describe.
const SORT_FLAGS: Flags = Flags::WRITE.and(Flags::DENYOOM).and(Flags::MOVABLE_KEYS);
const SORT_RO_FLAGS: Flags = Flags::READONLY.and(Flags::MOVABLE_KEYS);

pub(crate) static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, Handler::Engine(sort))
        .flags(SORT_FLAGS)
        .keys(KeyRange::FIRST)
        .movable_keys(MovableKeys::Sort { store: true })
        .doc(
            Group::Generic,
            "1.0.0",
            "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        ),
    CommandSpec::new("sort_ro", -2, Handler::Engine(sort_ro))
        .flags(SORT_RO_FLAGS)
        .keys(KeyRange::FIRST)
        .movable_keys(MovableKeys::Sort { store: false })
        .doc(
            Group::Generic,
            "7.0.0",
            "Returns the sorted elements of a list, a set, or a sorted set.",
        ),
];

/// Most elements one propagated RPUSH carries for SORT ... STORE, so a replica or an AOF loader
/// never meets one huge command.
pub const STORE_RPUSH_BATCH: usize = 1024;

const SCORE_ERROR: &str = "ERR One or more scores can't be converted into double";

fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let query = SortQuery::parse(args, false)?;
    run(ctx, &query)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let query = SortQuery::parse(args, true)?;
    run(ctx, &query)
}

// ---------------------------------------------------------------------------------------------
// Arguments

/// A pattern with a `*`: the key `prefix <element> suffix`, or that hash's `field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyPattern<'a> {
    prefix: &'a [u8],
    suffix: &'a [u8],
    field: Option<&'a [u8]>,
}

impl<'a> KeyPattern<'a> {
    /// The pattern's parts, or `None` if it has no `*`. The first `*` is substituted; the first
    /// `->` after it starts a hash field, unless nothing follows it.
    fn parse(pattern: &'a [u8]) -> Option<KeyPattern<'a>> {
        let star = pattern.iter().position(|&b| b == b'*')?;
        let prefix = pattern.get(..star)?;
        let after = pattern.get(star + 1..)?;
        let arrow = after.windows(2).position(|pair| pair == b"->");
        let (suffix, field) = match arrow {
            Some(at) if at + 2 < after.len() => (after.get(..at)?, Some(after.get(at + 2..)?)),
            _ => (after, None),
        };
        Some(KeyPattern {
            prefix,
            suffix,
            field,
        })
    }

    /// Writes the key this pattern names for `element` into `key`.
    fn fill_key(&self, element: &[u8], key: &mut Vec<u8>) {
        key.clear();
        key.extend_from_slice(self.prefix);
        key.extend_from_slice(element);
        key.extend_from_slice(self.suffix);
    }
}

/// What one GET adds to the reply for each element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GetPattern<'a> {
    /// `#`: the element itself.
    Element,
    /// No `*`: it names the same key for every element, which Redis never reads (always nil).
    Constant,
    /// A value found through the element.
    Key(KeyPattern<'a>),
}

impl<'a> GetPattern<'a> {
    fn parse(pattern: &'a [u8]) -> GetPattern<'a> {
        if pattern == b"#" {
            return GetPattern::Element;
        }
        KeyPattern::parse(pattern).map_or(GetPattern::Constant, GetPattern::Key)
    }
}

/// A parsed SORT or SORT_RO.
#[derive(Debug, Default)]
struct SortQuery<'a> {
    key: &'a [u8],
    /// The last BY pattern with a `*`.
    by: Option<KeyPattern<'a>>,
    /// Some BY pattern had no `*` (`BY nosort`): Redis then keeps the elements' own order, even
    /// if another BY names a real pattern.
    by_constant: bool,
    offset: i64,
    /// Negative: every element from the offset on.
    count: i64,
    gets: Vec<GetPattern<'a>>,
    descending: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
}

impl<'a> SortQuery<'a> {
    /// Parses the options left to right as Redis does: the first bad option or number fails.
    /// SORT_RO (`readonly`) does not know STORE.
    fn parse(args: &'a [Bytes], readonly: bool) -> Result<SortQuery<'a>, CommandError> {
        let (key, mut rest) = match args {
            [_, key, rest @ ..] => (key, rest),
            _ => return Err(CommandError::WrongArity(sort_name(readonly).to_owned())),
        };
        let mut query = SortQuery {
            key,
            count: -1,
            ..SortQuery::default()
        };
        while let Some((option, tail)) = rest.split_first() {
            let operands = query.apply_option(option, tail, readonly)?;
            rest = tail.get(operands..).unwrap_or_default();
        }
        Ok(query)
    }

    /// Applies one option whose operands start `tail`; returns how many operands it took.
    fn apply_option(
        &mut self,
        option: &[u8],
        tail: &'a [Bytes],
        readonly: bool,
    ) -> Result<usize, CommandError> {
        match tail {
            _ if is_keyword(option, "asc") => self.descending = false,
            _ if is_keyword(option, "desc") => self.descending = true,
            _ if is_keyword(option, "alpha") => self.alpha = true,
            [offset, count, ..] if is_keyword(option, "limit") => {
                self.offset = parse_i64_arg(offset)?;
                self.count = parse_i64_arg(count)?;
                return Ok(2);
            }
            [destination, ..] if is_keyword(option, "store") && !readonly => {
                self.store = Some(destination);
                return Ok(1);
            }
            [pattern, ..] if is_keyword(option, "by") => {
                match KeyPattern::parse(pattern) {
                    Some(by) => self.by = Some(by),
                    None => self.by_constant = true,
                }
                return Ok(1);
            }
            [pattern, ..] if is_keyword(option, "get") => {
                self.gets.push(GetPattern::parse(pattern));
                return Ok(1);
            }
            _ => return Err(CommandError::Syntax),
        }
        Ok(0)
    }

    /// The keys named in the arguments: the source and the destination.
    fn named_keys(&self) -> impl Iterator<Item = &'a [u8]> {
        std::iter::once(self.key).chain(self.store)
    }

    /// The reply's element range among `len` sorted elements, as LIMIT selects it: a negative
    /// offset is 0, a negative count takes everything after the offset.
    fn window(&self, len: usize) -> Range<usize> {
        let start = usize::try_from(self.offset).unwrap_or(0).min(len);
        let end = match usize::try_from(self.count) {
            Ok(count) => start.saturating_add(count).min(len),
            Err(_) => len,
        };
        start..end
    }

    /// How the elements of a value of kind `kind` are ordered.
    fn order(&self, kind: Kind) -> Order<'_> {
        if self.by_constant {
            // A set has no order of its own: what is stored must not depend on its layout, so
            // Redis sorts it byte-wise after all.
            return if kind == Kind::Set && self.store.is_some() {
                Order::Alpha
            } else {
                Order::Unsorted
            };
        }
        match (self.alpha, &self.by) {
            (true, None) => Order::Alpha,
            (true, Some(by)) => Order::AlphaBy(by),
            (false, None) => Order::Numeric,
            (false, Some(by)) => Order::NumericBy(by),
        }
    }
}

fn sort_name(readonly: bool) -> &'static str {
    if readonly {
        "sort_ro"
    } else {
        "sort"
    }
}

// ---------------------------------------------------------------------------------------------
// Running

/// The kinds of value SORT reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    SortedSet,
}

/// What the elements are compared by.
#[derive(Debug, Clone, Copy)]
enum Order<'q> {
    /// Nothing: the value's own order (lists, sorted sets) or iteration order (sets).
    Unsorted,
    /// The elements' bytes.
    Alpha,
    /// The bytes BY finds; an element whose BY value is missing comes first.
    AlphaBy(&'q KeyPattern<'q>),
    /// The elements as numbers.
    Numeric,
    /// The numbers BY finds; a missing BY value counts as 0.
    NumericBy(&'q KeyPattern<'q>),
}

impl Order<'_> {
    fn by_pattern(&self) -> Option<&KeyPattern<'_>> {
        match self {
            Order::AlphaBy(by) | Order::NumericBy(by) => Some(by),
            _ => None,
        }
    }
}

/// The elements copied out of the source, under the locks of one pass.
#[derive(Debug)]
struct Loaded<'q> {
    /// Whether the source exists (for the hit/miss statistics).
    found: bool,
    order: Order<'q>,
    /// Every element, or only the window already in order when a list or sorted set is not
    /// sorted (Redis reads just that range then).
    elements: Vec<Bytes>,
    /// The part of `elements`, once sorted, that the reply holds.
    window: Range<usize>,
}

/// Runs a parsed query: locks every slot it reads or writes, then sorts, looks up and replies.
fn run(ctx: &Ctx<'_>, query: &SortQuery<'_>) -> Result<Reply, CommandError> {
    let db = ctx.db();
    let mut held: Vec<(usize, u16)> = query.named_keys().map(|k| (db, key_slot(k))).collect();
    loop {
        // `lock_targets` leaves `held` sorted and deduplicated.
        let mut locks = ctx.lock_targets(db, &mut held);
        let loaded = load(&mut locks, query);
        let missing = match &loaded {
            Ok(loaded) => loaded.missing_slots(query, db, &held),
            Err(_) => Vec::new(),
        };
        if missing.is_empty() {
            let found = loaded.as_ref().map_or(true, |loaded| loaded.found);
            ctx.engine.stats.note_lookup(found);
            return finish(&mut locks, query, loaded?);
        }
        debug_assert!(held.len() + missing.len() <= SLOT_COUNT);
        drop(locks);
        held.extend(missing);
    }
}

/// Copies the elements of the source out (WRONGTYPE for a value SORT cannot read), without
/// counting a hit or a miss: this pass may be retried.
fn load<'q>(locks: &mut Locks<'_>, query: &'q SortQuery<'_>) -> Result<Loaded<'q>, CommandError> {
    let Some(entry) = locks.get(query.key) else {
        // A missing key sorts as an empty list, as in Redis.
        return Ok(Loaded {
            found: false,
            order: query.order(Kind::List),
            elements: Vec::new(),
            window: 0..0,
        });
    };
    let kind = kind_of(entry)?;
    let order = query.order(kind);
    let (elements, window) = match (&entry.value, order) {
        (Value::List(list), Order::Unsorted) => {
            let window = query.window(list.len());
            let elements = list_window(list, window, query.descending);
            let len = elements.len();
            (elements, 0..len)
        }
        (Value::SortedSet(zset), Order::Unsorted) => {
            let window = mirrored(query.window(zset.len()), zset.len(), query.descending);
            let range = zset
                .range(window)
                .map(|(member, _)| Bytes::copy_from_slice(member));
            let elements: Vec<Bytes> = if query.descending {
                range.rev().collect()
            } else {
                range.collect()
            };
            let len = elements.len();
            (elements, 0..len)
        }
        (Value::List(list), _) => {
            let elements = list.iter().map(Bytes::copy_from_slice).collect();
            (elements, query.window(list.len()))
        }
        (Value::SortedSet(zset), _) => {
            let elements = zset
                .iter()
                .map(|(m, _)| Bytes::copy_from_slice(m))
                .collect();
            (elements, query.window(zset.len()))
        }
        (Value::Set(set), _) => {
            let elements = set.iter().map(Member::to_bytes).collect();
            (elements, query.window(set.len()))
        }
        _ => return Err(CommandError::WrongType),
    };
    Ok(Loaded {
        found: true,
        order,
        elements,
        window,
    })
}

fn kind_of(entry: &Entry) -> Result<Kind, CommandError> {
    match &entry.value {
        Value::List(_) => Ok(Kind::List),
        Value::Set(_) => Ok(Kind::Set),
        Value::SortedSet(_) => Ok(Kind::SortedSet),
        _ => Err(CommandError::WrongType),
    }
}

/// The ascending index range that holds `window` counted from the tail when `descending`.
fn mirrored(window: Range<usize>, len: usize, descending: bool) -> Range<usize> {
    if descending {
        len - window.end..len - window.start
    } else {
        window
    }
}

/// The elements of `window`, counted from the tail and tail first when `descending`.
fn list_window(list: &ListValue, window: Range<usize>, descending: bool) -> Vec<Bytes> {
    let range = mirrored(window, list.len(), descending);
    let mut elements: Vec<Bytes> = list
        .iter_from(range.start)
        .take(range.len())
        .map(Bytes::copy_from_slice)
        .collect();
    if descending {
        elements.reverse();
    }
    elements
}

impl Loaded<'_> {
    /// The slots (of database `db`) that BY and GET will read and `held` lacks, sorted.
    fn missing_slots(
        &self,
        query: &SortQuery<'_>,
        db: usize,
        held: &[(usize, u16)],
    ) -> Vec<(usize, u16)> {
        let mut key = Vec::new();
        let mut missing = Vec::new();
        let mut note = |pattern: &KeyPattern<'_>, element: &[u8]| {
            pattern.fill_key(element, &mut key);
            let target = (db, key_slot(&key));
            if held.binary_search(&target).is_err() {
                missing.push(target);
            }
        };
        if let Some(by) = self.order.by_pattern() {
            self.elements.iter().for_each(|element| note(by, element));
        }
        // Unsorted elements are already in place: only the window is looked up. Sorted ones may
        // land anywhere.
        let looked_up = match self.order {
            Order::Unsorted => self.elements.get(self.window.clone()).unwrap_or_default(),
            _ => &self.elements,
        };
        for get in &query.gets {
            if let GetPattern::Key(pattern) = get {
                looked_up.iter().for_each(|element| note(pattern, element));
            }
        }
        missing.sort_unstable();
        missing.dedup();
        missing
    }
}

/// Sorts, looks up and replies (or stores), with every slot involved locked.
fn finish(
    locks: &mut Locks<'_>,
    query: &SortQuery<'_>,
    loaded: Loaded<'_>,
) -> Result<Reply, CommandError> {
    let selected = sorted_window(locks, loaded, query.descending)?;
    let values = fetch_values(locks, &query.gets, selected);
    Ok(match query.store {
        Some(destination) => store(locks, destination, values),
        None => Reply::Array(values.into_iter().map(Reply::bulk_or_nil).collect()),
    })
}

/// The elements of the reply's window, in order.
fn sorted_window(
    locks: &mut Locks<'_>,
    loaded: Loaded<'_>,
    descending: bool,
) -> Result<Vec<Bytes>, CommandError> {
    let Loaded {
        order,
        elements,
        window,
        ..
    } = loaded;
    let sorted = match order {
        Order::Unsorted => elements,
        Order::Alpha => {
            let keyed = elements.into_iter().map(|e| ((), e)).collect();
            sort_keyed(keyed, |_, _| Ordering::Equal, descending)
        }
        Order::AlphaBy(by) => {
            let mut key = Vec::new();
            let keyed = elements
                .into_iter()
                .map(|e| (lookup(locks, by, &e, &mut key), e))
                .collect();
            sort_keyed(keyed, Option::cmp, descending)
        }
        Order::Numeric => {
            let keyed = elements
                .into_iter()
                .map(|e| Ok((score_of(&e)?, e)))
                .collect::<Result<_, CommandError>>()?;
            sort_keyed(keyed, compare_scores, descending)
        }
        Order::NumericBy(by) => {
            let mut key = Vec::new();
            let keyed = elements
                .into_iter()
                .map(|e| {
                    let score = lookup(locks, by, &e, &mut key).map_or(Ok(0.0), |v| score_of(&v));
                    Ok((score?, e))
                })
                .collect::<Result<_, CommandError>>()?;
            sort_keyed(keyed, compare_scores, descending)
        }
    };
    Ok(sorted
        .into_iter()
        .skip(window.start)
        .take(window.len())
        .collect())
}

/// Sorts elements by their keys, ties broken by the elements' bytes, the whole order reversed
/// when `descending`.
fn sort_keyed<K>(
    mut keyed: Vec<(K, Bytes)>,
    compare_keys: impl Fn(&K, &K) -> Ordering,
    descending: bool,
) -> Vec<Bytes> {
    keyed.sort_unstable_by(|(a_key, a), (b_key, b)| {
        let order = compare_keys(a_key, b_key).then_with(|| a.cmp(b));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    keyed.into_iter().map(|(_, element)| element).collect()
}

/// Scores are never NaN (refused when parsed); -0 and 0 are equal, as in C.
fn compare_scores(a: &f64, b: &f64) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

fn score_of(text: &[u8]) -> Result<f64, CommandError> {
    parse_score(text).ok_or_else(|| CommandError::Other(SCORE_ERROR.to_owned()))
}

/// `text` as Redis reads a sort score: C's `strtod` must consume all of it (up to a NUL, where a
/// C string ends), without overflow, underflow or NaN. Nothing at all reads as 0, as `strtod`
/// then consumes nothing and stops at the end. Past the leading spaces `strtod` skips, this is
/// [`parse_f64_in_range`], except that a subnormal is refused too (`strtod` reports it as an
/// underflow).
fn parse_score(text: &[u8]) -> Option<f64> {
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text
        .iter()
        .position(|&b| !is_c_space(b))
        .unwrap_or(text.len());
    let value = parse_f64_in_range(&text[start..])?;
    (!value.is_subnormal()).then_some(value)
}

/// C's `isspace`: what `strtod` skips before a number (vertical tab included).
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// The value `pattern` finds for `element`: a string key's value, or a hash key's field.
/// Anything else (missing key or field, another type) is `None`.
fn lookup(
    locks: &mut Locks<'_>,
    pattern: &KeyPattern<'_>,
    element: &[u8],
    key: &mut Vec<u8>,
) -> Option<Bytes> {
    pattern.fill_key(element, key);
    let entry = locks.read(key)?;
    match (&entry.value, pattern.field) {
        (Value::Str(value), None) => Some(value.to_bytes()),
        (Value::Hash(hash), Some(field)) => hash.get(field).map(Bytes::copy_from_slice),
        _ => None,
    }
}

/// The reply's values: the elements themselves without GET, else one value per GET per element.
fn fetch_values(
    locks: &mut Locks<'_>,
    gets: &[GetPattern<'_>],
    elements: Vec<Bytes>,
) -> Vec<Option<Bytes>> {
    if gets.is_empty() {
        return elements.into_iter().map(Some).collect();
    }
    let mut key = Vec::new();
    let mut values = Vec::new();
    for element in &elements {
        for get in gets {
            values.push(match get {
                GetPattern::Element => Some(element.clone()),
                GetPattern::Constant => None,
                GetPattern::Key(pattern) => lookup(locks, pattern, element, &mut key),
            });
        }
    }
    values
}

/// Replaces `destination` with a list of `values` (a missing value stored as the empty string),
/// or deletes it when there is none; replies the list's length.
fn store(locks: &mut Locks<'_>, destination: &[u8], values: Vec<Option<Bytes>>) -> Reply {
    let elements: Vec<Bytes> = values.into_iter().map(Option::unwrap_or_default).collect();
    let len = elements.len();
    if elements.is_empty() {
        if locks.remove(destination).is_some() {
            locks.propagate(|| record(b"DEL", destination, &[]));
            locks.notify(Events::GENERIC, "del", destination);
        }
        return Reply::Integer(0);
    }
    let mut list = ListValue::new();
    list.extend(End::Right, &elements, locks.encodings().list_limit());
    let replaced = locks.insert(destination, Entry::new(Value::List(list)));
    if replaced.is_some() {
        locks.propagate(|| record(b"DEL", destination, &[]));
    }
    for batch in elements.chunks(STORE_RPUSH_BATCH) {
        locks.propagate(|| record(b"RPUSH", destination, batch));
    }
    // Redis files `sortstore` under the list class, since the stored value is a list.
    locks.notify(Events::LIST, "sortstore", destination);
    Reply::Integer(i64::try_from(len).unwrap_or(i64::MAX))
}

/// A propagation record: `name key elements...`.
fn record(name: &'static [u8], key: &[u8], elements: &[Bytes]) -> Vec<Bytes> {
    let mut args = Vec::with_capacity(elements.len() + 2);
    args.push(Bytes::from_static(name));
    args.push(Bytes::copy_from_slice(key));
    args.extend(elements.iter().cloned());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Bytes> {
        line.split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn patterns_split_at_the_first_star_and_arrow() {
        let key = KeyPattern::parse(b"w_*").expect("has a star");
        assert_eq!(
            (key.prefix, key.suffix, key.field),
            (&b"w_"[..], &b""[..], None)
        );
        let field = KeyPattern::parse(b"obj:*:x->name").expect("has a star");
        assert_eq!(field.prefix, b"obj:");
        assert_eq!(field.suffix, b":x");
        assert_eq!(field.field, Some(&b"name"[..]));
        // An arrow with nothing after it is part of the key; only the first arrow splits.
        let bare = KeyPattern::parse(b"h*->").expect("has a star");
        assert_eq!((bare.suffix, bare.field), (&b"->"[..], None));
        let twice = KeyPattern::parse(b"h*->->f").expect("has a star");
        assert_eq!((twice.suffix, twice.field), (&b""[..], Some(&b"->f"[..])));
        // An arrow before the star is part of the prefix; a second star is literal.
        let early = KeyPattern::parse(b"a->b*c*").expect("has a star");
        assert_eq!(
            (early.prefix, early.suffix, early.field),
            (&b"a->b"[..], &b"c*"[..], None)
        );
        assert_eq!(KeyPattern::parse(b"nosort"), None);
        let mut filled = Vec::new();
        field.fill_key(b"7", &mut filled);
        assert_eq!(filled, b"obj:7:x");
    }

    #[test]
    fn get_patterns_distinguish_the_element_and_constants() {
        assert_eq!(GetPattern::parse(b"#"), GetPattern::Element);
        assert_eq!(GetPattern::parse(b"##"), GetPattern::Constant);
        assert_eq!(GetPattern::parse(b"fixed"), GetPattern::Constant);
        assert!(matches!(GetPattern::parse(b"#*"), GetPattern::Key(_)));
    }

    #[test]
    fn options_parse_left_to_right() {
        let args = words("SORT k by w_* limit 1 2 get # get o_* desc alpha store d");
        let query = SortQuery::parse(&args, false).expect("valid");
        assert_eq!(query.key, b"k");
        assert!(query.by.is_some() && !query.by_constant);
        assert_eq!((query.offset, query.count), (1, 2));
        assert_eq!(query.gets.len(), 2);
        assert!(query.descending && query.alpha);
        assert_eq!(query.store, Some(&b"d"[..]));
        let args = words("SORT k DESC ASC");
        assert!(!SortQuery::parse(&args, false).expect("valid").descending);
        // A constant BY wins over a later real one, as in Redis.
        let args = words("SORT k BY nosort BY w_*");
        let both = SortQuery::parse(&args, false).expect("valid");
        assert!(both.by_constant && both.by.is_some());
    }

    #[test]
    fn bad_options_fail_at_the_first_problem() {
        let parse = |line: &str, readonly| SortQuery::parse(&words(line), readonly).map(|_| ());
        assert_eq!(parse("SORT k LIMIT 1", false), Err(CommandError::Syntax));
        assert_eq!(
            parse("SORT k LIMIT x 1 bogus", false),
            Err(CommandError::NotInteger)
        );
        assert_eq!(
            parse("SORT k bogus LIMIT x 1", false),
            Err(CommandError::Syntax)
        );
        assert_eq!(parse("SORT k BY", false), Err(CommandError::Syntax));
        assert_eq!(parse("SORT k GET", false), Err(CommandError::Syntax));
        assert_eq!(parse("SORT k STORE", false), Err(CommandError::Syntax));
        assert_eq!(parse("SORT_RO k STORE d", true), Err(CommandError::Syntax));
        assert_eq!(parse("SORT_RO k ALPHA", true), Ok(()));
    }

    #[test]
    fn limit_windows_clamp_like_redis() {
        let window = |offset, count, len| {
            let query = SortQuery {
                offset,
                count,
                ..SortQuery::default()
            };
            query.window(len)
        };
        assert_eq!(window(0, -1, 5), 0..5);
        assert_eq!(window(1, 2, 5), 1..3);
        assert_eq!(window(-3, 2, 5), 0..2);
        assert_eq!(window(3, 10, 5), 3..5);
        assert_eq!(window(9, 2, 5), 5..5);
        assert_eq!(window(2, 0, 5), 2..2);
        assert_eq!(window(2, -7, 5), 2..5);
        assert_eq!(window(i64::MAX, i64::MAX, 5), 5..5);
        assert_eq!(window(i64::MIN, i64::MAX, 5), 0..5);
        assert_eq!(window(0, 3, 0), 0..0);
    }

    #[test]
    fn scores_parse_like_strtod_over_the_whole_text() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-3"), Some(-3.0));
        assert_eq!(parse_score(b"+2e2"), Some(200.0));
        assert_eq!(parse_score(b" \x0b\t7"), Some(7.0));
        assert_eq!(parse_score(b""), Some(0.0));
        assert_eq!(parse_score(b"12\0junk"), Some(12.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0e-999"), Some(0.0));
        assert_eq!(parse_score(b"  "), None);
        assert_eq!(parse_score(b"7 "), None);
        assert_eq!(parse_score(b"abc"), None);
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"1e-310"), None);
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b" 0X1e"), Some(30.0));
        assert_eq!(parse_score(b"-0x1p-1"), Some(-0.5));
        assert_eq!(parse_score(b"0x"), None);
        assert_eq!(parse_score(b"0x1p-1100"), None);
    }

    #[test]
    fn ties_break_on_the_element_bytes_in_either_direction() {
        let keyed = vec![
            (1.0, Bytes::from_static(b"b")),
            (0.0, Bytes::from_static(b"z")),
            (1.0, Bytes::from_static(b"a")),
            (-0.0, Bytes::from_static(b"y")),
        ];
        assert_eq!(
            sort_keyed(keyed.clone(), compare_scores, false),
            ["y", "z", "a", "b"]
        );
        assert_eq!(
            sort_keyed(keyed, compare_scores, true),
            ["b", "a", "z", "y"]
        );
    }
}
