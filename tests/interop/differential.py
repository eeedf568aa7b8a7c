#!/usr/bin/env python3
"""Differential check: the same random command stream against slotkv-server and redis-server.

Generates seeded random commands over a few shared keys (so types collide and WRONGTYPE, missing
keys and bad numbers come up often): strings, hashes, lists, sets, sorted sets, bitmaps,
HyperLogLogs and generic key commands, with valid and invalid arguments. Each command goes to
both servers; the replies, or the error texts, must be equal. Replies whose order Redis does not
define (SMEMBERS, HKEYS, ...) are compared sorted; commands with random results are left out, and
so is SORT (redis-server converts a sorted set it sorts to a skiplist). Where slotkv follows
Redis 7.2 rather than 7.0 (BITCOUNT's argument checks, list and set encodings), the check
compares only what both versions agree on.

    differential.py path/to/slotkv-server [--commands 4000] [--seed 1]

Both servers run without persistence on free loopback ports and are stopped by PID at the end.
"""

import argparse
import random
import sys
import tempfile

import redis

from persist_checks import REDIS_SERVER, Process

KEYS = ["k1", "k2", "k3", "k4"]
MEMBERS = ["a", "b", "c", "d", "e", "1", "2", "-3", "10"]
NUMBERS = ["0", "1", "-1", "2", "5", "-7", "100", "3.5", "-0.25", "1e3", "abc", "", "inf", "-inf",
           "9223372036854775807", "-9223372036854775808", "9223372036854775808", "0x10", " 1",
           "1000.1", "1733550000000.1", "1e400", "1e-400", "0x1.8p1"]
SCORES = ["0", "1", "-1", "2.5", "-3.75", "1e2", "inf", "-inf", "+inf", "nan", "x", "(1", "(2.5",
          "1e400", "-1e400", "1e-400", "(1e400", "0x10", "1e-310"]
LEX = ["-", "+", "[a", "(b", "[c", "(e", "a", "[", "(", "[zz"]
INDEXES = ["0", "1", "-1", "2", "-2", "5", "-100", "100", "x"]
# Unix times for EXPIREAT: the past, two in the year 2100, and not a number.
EXPIRY_DEADLINES = ["1", "4102444800", "4102448400", "soon"]

# Replies compared as sorted lists: Redis does not define their order.
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS", "KEYS"}
# Replies of field/value pairs compared as sorted pairs.
PAIRS = {"HGETALL"}


def pick(rng, values):
    return rng.choice(values)


def members(rng, most=3):
    return [pick(rng, MEMBERS) for _ in range(rng.randint(1, most))]


def string_command(rng, key):
    value = pick(rng, MEMBERS + NUMBERS)
    return pick(rng, [
        ["SET", key, value],
        ["SET", key, value, pick(rng, ["NX", "XX", "GET", "KEEPTTL"])], ["SET", key, value, "NX", "GET"],
        ["GET", key], ["APPEND", key, value], ["STRLEN", key], ["INCR", key], ["DECR", key],
        ["INCRBY", key, pick(rng, NUMBERS)], ["DECRBY", key, pick(rng, NUMBERS)],
        ["INCRBYFLOAT", key, pick(rng, NUMBERS)], ["GETRANGE", key, pick(rng, INDEXES), pick(rng, INDEXES)],
        ["SETRANGE", key, pick(rng, ["0", "1", "3", "-1", "x"]), value], ["SETNX", key, value],
        ["GETSET", key, value], ["GETDEL", key], ["MGET", key, pick(rng, KEYS)],
        ["MSET", key, value, pick(rng, KEYS), pick(rng, MEMBERS)], ["MSETNX", key, value],
    ])


def hash_command(rng, key):
    field, value = pick(rng, MEMBERS), pick(rng, MEMBERS + NUMBERS)
    return pick(rng, [
        ["HSET", key, field, value], ["HSET", key, field, value, pick(rng, MEMBERS), value],
        ["HSET", key, field], ["HGET", key, field], ["HDEL", key, *members(rng)], ["HLEN", key],
        ["HEXISTS", key, field], ["HINCRBY", key, field, pick(rng, NUMBERS)],
        ["HINCRBYFLOAT", key, field, pick(rng, NUMBERS)], ["HMGET", key, *members(rng)],
        ["HSETNX", key, field, value], ["HSTRLEN", key, field], ["HKEYS", key], ["HVALS", key],
        ["HGETALL", key], ["HMSET", key, field, value],
    ])


def list_command(rng, key):
    other = pick(rng, KEYS)
    end = pick(rng, ["LEFT", "RIGHT", "UP"])
    return pick(rng, [
        ["LPUSH", key, *members(rng)], ["RPUSH", key, *members(rng)], ["LPUSHX", key, pick(rng, MEMBERS)],
        ["RPUSHX", key, pick(rng, MEMBERS)], ["LPOP", key], ["RPOP", key],
        ["LPOP", key, pick(rng, INDEXES)], ["RPOP", key, pick(rng, INDEXES)], ["LLEN", key],
        ["LRANGE", key, pick(rng, INDEXES), pick(rng, INDEXES)], ["LINDEX", key, pick(rng, INDEXES)],
        ["LSET", key, pick(rng, INDEXES), pick(rng, MEMBERS)],
        ["LINSERT", key, pick(rng, ["BEFORE", "AFTER", "NEAR"]), pick(rng, MEMBERS), pick(rng, MEMBERS)],
        ["LREM", key, pick(rng, INDEXES), pick(rng, MEMBERS)], ["LTRIM", key, pick(rng, INDEXES), pick(rng, INDEXES)],
        ["LPOS", key, pick(rng, MEMBERS)], ["LPOS", key, pick(rng, MEMBERS), "RANK", pick(rng, INDEXES)],
        ["LPOS", key, pick(rng, MEMBERS), "COUNT", pick(rng, ["0", "1", "2", "-1"])],
        ["LMOVE", key, other, pick(rng, ["LEFT", "RIGHT"]), end], ["RPOPLPUSH", key, other],
        ["LMPOP", "2", key, other, pick(rng, ["LEFT", "RIGHT"]), "COUNT", pick(rng, ["1", "2", "0"])],
    ])


def set_command(rng, key):
    other = pick(rng, KEYS)
    return pick(rng, [
        ["SADD", key, *members(rng)], ["SREM", key, *members(rng)], ["SCARD", key],
        ["SISMEMBER", key, pick(rng, MEMBERS)], ["SMISMEMBER", key, *members(rng)], ["SMEMBERS", key],
        ["SINTER", key, other], ["SUNION", key, other], ["SDIFF", key, other],
        ["SINTERSTORE", pick(rng, KEYS), key, other], ["SUNIONSTORE", pick(rng, KEYS), key, other],
        ["SDIFFSTORE", pick(rng, KEYS), key, other], ["SMOVE", key, other, pick(rng, MEMBERS)],
        ["SINTERCARD", "2", key, other], ["SINTERCARD", "2", key, other, "LIMIT", pick(rng, INDEXES)],
    ])


def zset_command(rng, key):
    other = pick(rng, KEYS)
    flags = rng.sample(["NX", "XX", "GT", "LT", "CH"], rng.randint(0, 2))
    rank = lambda: pick(rng, INDEXES)  # noqa: E731
    score = lambda: pick(rng, SCORES)  # noqa: E731
    lex = lambda: pick(rng, LEX)  # noqa: E731
    return pick(rng, [
        ["ZADD", key, *flags, score(), pick(rng, MEMBERS)],
        ["ZADD", key, score(), pick(rng, MEMBERS), score(), pick(rng, MEMBERS)],
        ["ZADD", key, "INCR", score(), pick(rng, MEMBERS)], ["ZINCRBY", key, score(), pick(rng, MEMBERS)],
        ["ZREM", key, *members(rng)], ["ZCARD", key], ["ZSCORE", key, pick(rng, MEMBERS)],
        ["ZMSCORE", key, *members(rng)], ["ZCOUNT", key, score(), score()], ["ZLEXCOUNT", key, lex(), lex()],
        ["ZRANK", key, pick(rng, MEMBERS)], ["ZREVRANK", key, pick(rng, MEMBERS)],
        ["ZRANGE", key, rank(), rank()], ["ZRANGE", key, rank(), rank(), "WITHSCORES"],
        ["ZRANGE", key, score(), score(), "BYSCORE"], ["ZRANGE", key, score(), score(), "BYSCORE", "REV", "WITHSCORES"],
        ["ZRANGE", key, lex(), lex(), "BYLEX"], ["ZRANGE", key, lex(), lex(), "BYLEX", "LIMIT", rank(), rank()],
        ["ZRANGEBYSCORE", key, score(), score(), "WITHSCORES"], ["ZREVRANGEBYSCORE", key, score(), score()],
        ["ZRANGEBYLEX", key, lex(), lex()], ["ZREVRANGE", key, rank(), rank()],
        ["ZPOPMIN", key], ["ZPOPMAX", key, pick(rng, INDEXES)],
        ["ZREMRANGEBYSCORE", key, score(), score()], ["ZREMRANGEBYRANK", key, rank(), rank()],
        ["ZREMRANGEBYLEX", key, lex(), lex()],
        ["ZUNIONSTORE", pick(rng, KEYS), "2", key, other, "WEIGHTS", score(), score()],
        ["ZINTERSTORE", pick(rng, KEYS), "2", key, other, "AGGREGATE", pick(rng, ["SUM", "MIN", "MAX", "AVG"])],
        ["ZUNION", "2", key, other, "WITHSCORES"], ["ZINTER", "2", key, other], ["ZDIFF", "2", key, other],
        ["ZINTERCARD", "2", key, other], ["ZRANGESTORE", pick(rng, KEYS), key, rank(), rank()],
        ["ZMPOP", "2", key, other, pick(rng, ["MIN", "MAX"]), "COUNT", pick(rng, ["1", "3", "0"])],
    ])


def bitmap_command(rng, key):
    offset = pick(rng, ["0", "1", "7", "8", "15", "100", "-1", "x"])
    # Valid range numbers only: Redis 7.2 (which slotkv follows) checks them before the key,
    # redis-server 7.0 after.
    index = lambda: pick(rng, [i for i in INDEXES if i != "x"])  # noqa: E731
    return pick(rng, [
        ["SETBIT", key, offset, pick(rng, ["0", "1", "2"])], ["GETBIT", key, offset],
        ["BITCOUNT", key], ["BITCOUNT", key, index(), index()],
        ["BITCOUNT", key, index(), index(), pick(rng, ["BYTE", "BIT"])],
        ["BITPOS", key, pick(rng, ["0", "1"])], ["BITPOS", key, pick(rng, ["0", "1"]), index()],
        ["BITOP", pick(rng, ["AND", "OR", "XOR", "NOT"]), pick(rng, KEYS), key],
    ])


def generic_command(rng, key):
    other = pick(rng, KEYS)
    return pick(rng, [
        ["DEL", key], ["DEL", key, other], ["EXISTS", key, other], ["TYPE", key], ["RENAME", key, other],
        ["RENAMENX", key, other], ["COPY", key, other], ["COPY", key, other, "REPLACE"],
        ["OBJECT", "ENCODING", key], ["DBSIZE"], ["PERSIST", key], ["EXPIRE", key, "1000"],
        ["EXPIRE", key, "1000", pick(rng, ["NX", "XX"])],
        # GT and LT compare deadlines to the millisecond: relative ones set a moment apart race
        # the clock, so these use fixed deadlines (a past one deletes the key).
        ["EXPIREAT", key, pick(rng, EXPIRY_DEADLINES), pick(rng, ["NX", "XX", "GT", "LT"])],
        ["PFADD", key, *members(rng)],
        ["PFCOUNT", key], ["KEYS", "k*"],
    ])


FAMILIES = [string_command, hash_command, list_command, set_command, zset_command, bitmap_command,
            generic_command]


def normalize(command, reply, kind=None):
    name = command[0].upper()
    # Lists are quicklists in Redis 7.0 and small ones listpacks in 7.2 (as in slotkv); sets of
    # strings are hashtables in 7.0 and small ones listpacks in 7.2. Intsets are alike.
    if name == "OBJECT" and kind == b"list":
        return b"a list encoding"
    if name == "OBJECT" and kind == b"set" and reply != b"intset":
        return b"a set-of-strings encoding"
    if isinstance(reply, list) and name in UNORDERED:
        return sorted(reply)
    if isinstance(reply, list) and name in PAIRS:
        return sorted(zip(reply[::2], reply[1::2]))
    return reply


def run_one(client, command):
    try:
        return client.execute_command(*command)
    except redis.ResponseError as error:
        return ("error", str(error))


def compare(slotkv_port, redis_port, commands, seed):
    rng = random.Random(seed)
    ours = redis.Redis(port=slotkv_port)
    theirs = redis.Redis(port=redis_port)
    for client in (ours, theirs):
        # Replies as the server sent them, without redis-py's per-command parsing.
        client.response_callbacks.clear()
    differences = []
    for index in range(commands):
        key = pick(rng, KEYS)
        command = rng.choice(FAMILIES)(rng, key)
        kind = theirs.type(key) if command[0] == "OBJECT" else None
        mine, reference = (normalize(command, run_one(c, command), kind) for c in (ours, theirs))
        if mine != reference:
            differences.append((index, command, mine, reference))
            # Put the two keyspaces back in step.
            ours.flushall()
            theirs.flushall()
    return differences


def check(binary, commands=20000, seed=1):
    """The interop suite's entry: fails with the first differences listed."""
    with tempfile.TemporaryDirectory() as workdir:
        ours = Process(binary, workdir, "--save", "", "--appendonly", "no")
        try:
            theirs = Process(REDIS_SERVER, workdir, "--save", "", "--appendonly", "no")
            try:
                differences = compare(ours.port, theirs.port, commands, seed)
            finally:
                theirs.stop()
        finally:
            ours.stop()
    assert not differences, "\n".join(
        f"#{index} {' '.join(command)}: slotkv {mine!r}, redis {reference!r}"
        for index, command, mine, reference in differences[:10]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--commands", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        check(args.binary, args.commands, args.seed)
    except AssertionError as failure:
        print(failure)
        sys.exit(1)
    print(f"no difference in {args.commands} commands (seed {args.seed})")


if __name__ == "__main__":
    main()
