"""The maintenance console's line protocol: framing, words, answers, events, commands."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoneagent.console import (
    MAX_LINE_BYTES,
    CommandRegistry,
    CommandResult,
    ConsoleProtocol,
    LineSplitter,
    LineTooLong,
    QuotingError,
    format_error,
    format_event,
    format_ok,
    parse_fields,
    split_words,
)


def make_console() -> tuple[ConsoleProtocol, list[list[str]]]:
    """A console with ``echo WORD...``, ``dial NUMBER [SECONDS]`` and ``boom``; records calls."""
    calls: list[list[str]] = []
    registry = CommandRegistry()

    def echo(args: list[str]) -> CommandResult:
        calls.append(args)
        return CommandResult.ok(**{f"w{index}": word for index, word in enumerate(args)})

    def dial(args: list[str]) -> CommandResult:
        calls.append(args)
        if not args[0].isdigit():
            return CommandResult.fail("bad-number", f"not a number: {args[0]}")
        return CommandResult.ok(number=args[0], state="dialing")

    def boom(args: list[str]) -> CommandResult:
        raise RuntimeError("handler bug")

    registry.register("echo", echo, usage="WORD...", help="answer with the words")
    registry.register("dial", dial, usage="NUMBER [SECONDS]", help="call a number")
    registry.register("boom", boom, usage="", help="fail")
    return ConsoleProtocol(registry), calls


def feed(console: ConsoleProtocol, *chunks: bytes) -> list[bytes]:
    return [answer for chunk in chunks for answer in console.receive_data(chunk)]


# -- line framing ------------------------------------------------------------------------

ENDINGS = [b"\r", b"\n", b"\r\n"]


@pytest.mark.parametrize(("first", "second"), list(itertools.product(ENDINGS, repeat=2)))
def test_every_combination_of_line_ends(first: bytes, second: bytes) -> None:
    console, calls = make_console()
    assert feed(console, b"echo a" + first + b"echo b" + second) == [
        b"ok w0=a\r\n",
        b"ok w0=b\r\n",
    ]
    assert calls == [["a"], ["b"]]


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_line_is_answered_only_once_it_ends(ending: bytes) -> None:
    console, _ = make_console()
    assert feed(console, b"echo a") == []
    assert feed(console, ending) == [b"ok w0=a\r\n"]


def test_lf_cr_is_two_line_ends() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\n\rb\r\r\nc\n") == [b"a", b"", b"b", b"", b"c"]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\r") == [b"a"]
    assert splitter.feed(b"") == []  # an empty read keeps the pending CR
    assert splitter.feed(b"\nb\r") == [b"b"]
    assert splitter.feed(b"\r\n") == [b""]  # CR ended b; CR LF ends an empty line
    assert splitter.feed(b"\n") == [b""]  # no CR before it: a line end of its own


STREAM = (
    b"echo one\r\n"
    b"\r\n"
    b'echo "two words"\n'
    b"\r"
    b"dial 123\r"
    b"\n"
    b"\n\r"
    b"dial x 5\r\r\n"
    b"echo caf\xc3\xa9\n" + b"a" * (MAX_LINE_BYTES + 10) + b"\r\n"
    b"nope\n"
    b"\xff\r\n"
    b"echo last\r"
)


def answers_for(chunks: list[bytes]) -> list[bytes]:
    console, _ = make_console()
    return feed(console, *chunks)


EXPECTED = answers_for([STREAM])


def test_the_reference_stream() -> None:
    assert answers_for([STREAM]) == [
        b"ok w0=one\r\n",
        b'ok w0="two words"\r\n',
        b"ok number=123 state=dialing\r\n",
        b"error bad-number not a number: x\r\n",
        "ok w0=café\r\n".encode(),
        b"error line-too-long over 512 bytes\r\n",
        b"error unknown-command nope\r\n",
        b"error bad-encoding lines must be UTF-8\r\n",
        b"ok w0=last\r\n",
    ]


def test_split_at_every_byte_position() -> None:
    for cut in range(len(STREAM) + 1):
        assert answers_for([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_split_at_every_pair_of_byte_positions() -> None:
    short = b"echo a\r\necho b\n\recho c\r\r\necho d\r"
    expected = answers_for([short])
    assert len(expected) == 4
    for first, second in itertools.combinations(range(len(short) + 1), 2):
        chunks = [short[:first], short[first:second], short[second:]]
        assert answers_for(chunks) == expected, (first, second)


def test_one_byte_at_a_time() -> None:
    assert answers_for([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_blank_lines_are_ignored() -> None:
    console, calls = make_console()
    assert feed(console, b"\r\n\n\r \t \r\n\xc2\xa0\n") == []
    assert calls == []


# -- long lines and bad bytes ------------------------------------------------------------


def test_a_line_of_exactly_the_limit_is_read() -> None:
    console, _ = make_console()
    line = b"echo " + b"x" * (MAX_LINE_BYTES - 5)
    assert len(line) == MAX_LINE_BYTES
    assert feed(console, line + b"\n") == [b"ok w0=" + b"x" * (MAX_LINE_BYTES - 5) + b"\r\n"]


def test_a_line_over_the_limit_is_answered_once_and_dropped() -> None:
    console, calls = make_console()
    line = b"echo " + b"x" * (MAX_LINE_BYTES - 4)
    assert feed(console, line[:300], line[300:]) == [b"error line-too-long over 512 bytes\r\n"]
    assert feed(console, b"more of the same line" * 100) == []
    assert feed(console, b"\r\necho next\r\n") == [b"ok w0=next\r\n"]
    assert calls == [["next"]]


def test_the_buffer_stays_bounded() -> None:
    splitter = LineSplitter()
    results = []
    for _ in range(1000):
        results += splitter.feed(b"z" * 1000)
        assert splitter.buffered <= MAX_LINE_BYTES
    assert results == [LineTooLong()]
    assert splitter.feed(b"\nok\n") == [b"ok"]


@pytest.mark.parametrize("line", [b"\xff", b"echo \xc3", b"echo \xed\xa0\x80", b"\xc0\xaf"])
def test_undecodable_bytes(line: bytes) -> None:
    console, calls = make_console()
    assert feed(console, line + b"\r\necho fine\r\n") == [
        b"error bad-encoding lines must be UTF-8\r\n",
        b"ok w0=fine\r\n",
    ]
    assert calls == [["fine"]]


def test_a_character_split_across_chunks_decodes() -> None:
    console, _ = make_console()
    assert feed(console, b"echo \xe2\x82", b"\xac\n") == ["ok w0=€\r\n".encode()]


# -- words and quoting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("", []),
        ("   ", []),
        ("status", ["status"]),
        ("  dial\t123  ", ["dial", "123"]),
        ('say "hello world"', ["say", "hello world"]),
        ('say "a \\"quoted\\" word"', ["say", 'a "quoted" word']),
        ('say "back\\\\slash"', ["say", "back\\slash"]),
        ("path C:\\temp", ["path", "C:\\temp"]),  # outside quotes a backslash is a character
        ('set name="Alice Smith" x=1', ["set", "name=Alice Smith", "x=1"]),
        ('""', [""]),
        ('a "" b', ["a", "", "b"]),
        ('a""b "c"d', ["ab", "cd"]),
        ("über\u3000straße", ["über", "straße"]),  # any Unicode white space separates
    ],
)
def test_split_words(line: str, words: list[str]) -> None:
    assert split_words(line) == words


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('say "unterminated', "unterminated quote"),
        ('say "ends in a backslash\\', 'unknown escape \\ (only \\" and \\\\)'),
        ('say "a \\n b"', 'unknown escape \\n (only \\" and \\\\)'),
    ],
)
def test_bad_quoting(line: str, problem: str) -> None:
    with pytest.raises(QuotingError) as info:
        split_words(line)
    assert str(info.value) == problem
    console, _ = make_console()
    assert feed(console, line.encode() + b"\n") == [f"error bad-quoting {problem}\r\n".encode()]


printable_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")),  # control characters cannot go on a line
    max_size=30,
)
keys = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)


@given(name=keys, fields=st.dictionaries(keys, printable_text, max_size=6))
def test_events_read_back_into_the_same_words(name: str, fields: dict[str, str]) -> None:
    line = format_event(name, **fields)
    assert line.endswith(b"\r\n") and b"\r" not in line[:-2] and b"\n" not in line[:-2]
    words = split_words(line[:-2].decode())
    assert words[:2] == ["event", name]
    assert words[2:] == [f"{key}={value}" for key, value in fields.items()]
    assert parse_fields(words[2:]) == fields


@given(fields=st.dictionaries(keys, printable_text, max_size=6))
def test_ok_answers_read_back(fields: dict[str, str]) -> None:
    words = split_words(format_ok(**fields)[:-2].decode())
    assert words[0] == "ok"
    assert parse_fields(words[1:]) == fields


@given(words=st.lists(printable_text, max_size=6))
def test_quoted_arguments_reach_the_handler_intact(words: list[str]) -> None:
    console, calls = make_console()
    line = " ".join(['"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in words])
    answers = feed(console, f"echo {line}\n".encode())
    if words and len(line.encode()) + 5 <= MAX_LINE_BYTES:
        assert calls == [words]
        fields = parse_fields(split_words(answers[0][:-2].decode())[1:])
        assert list(fields.values()) == words


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("", '""'),
        ("two words", '"two words"'),
        ("a=b", '"a=b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("tab\there", "tab\ufffdhere"),  # control characters become U+FFFD
        ("line\r\nbreak", "line\ufffd\ufffdbreak"),
        ("esc\x1b[2J", "esc\ufffd[2J"),
        ("lone\udc80surrogate", "lone\ufffdsurrogate"),
        ("back\\slash", "back\\slash"),
        ("non\u00a0breaking", '"non\u00a0breaking"'),
        (None, '""'),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (0.25, "0.25"),
    ],
)
def test_values_are_written_as_one_word(value: object, written: str) -> None:
    assert format_event("x", v=value) == f"event x v={written}\r\n".encode()


def test_format_ok_and_error() -> None:
    assert format_ok() == b"ok\r\n"
    assert format_ok(state="idle", calls=0) == b"ok state=idle calls=0\r\n"
    assert format_error("busy") == b"error busy\r\n"
    assert format_error("usage", "dial NUMBER") == b"error usage dial NUMBER\r\n"
    assert (
        format_error("bad-number", "two\r\nlines\x00")
        == b"error bad-number two lines\xef\xbf\xbd\r\n"
    )
    assert format_error("internal", "  ") == b"error internal\r\n"


@pytest.mark.parametrize("reason", ["", "Busy", "not_kebab", "-x", "x-", "a--b", "two words"])
def test_error_reasons_are_kebab_case(reason: str) -> None:
    with pytest.raises(ValueError, match="kebab-case"):
        format_error(reason)


@pytest.mark.parametrize("name", ["", "Call", "1st", "a b", "a=b", "é"])
def test_event_names_and_keys_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match=r"\[a-z\]"):
        format_event(name)
    with pytest.raises(ValueError, match=r"\[a-z\]"):
        format_event("ok", **{name: 1})


# -- commands ----------------------------------------------------------------------------


def test_unknown_command() -> None:
    console, _ = make_console()
    assert feed(console, b"frobnicate now\n") == [b"error unknown-command frobnicate\r\n"]
    assert feed(console, b"HELP\n") == [b"error unknown-command HELP\r\n"]  # names are exact


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        (b"dial", b"error usage dial NUMBER [SECONDS]\r\n"),
        (b"dial 1 2 3", b"error usage dial NUMBER [SECONDS]\r\n"),
        (b"dial 1 2", b"ok number=1 state=dialing\r\n"),
        (b"echo", b"error usage echo WORD...\r\n"),
        (b"echo " + b"w " * 100, b"ok " + b" ".join(b"w%d=w" % i for i in range(100)) + b"\r\n"),
        (b"boom now", b"error usage boom\r\n"),
        (b"help a b", b"error usage help [COMMAND]\r\n"),
    ],
)
def test_argument_counts(line: bytes, answer: bytes) -> None:
    console, _ = make_console()
    assert feed(console, line + b"\n") == [answer]


def test_help() -> None:
    console, _ = make_console()
    assert feed(console, b"help\n") == [b'ok commands="boom dial echo help"\r\n']
    assert feed(console, b"help dial\n") == [
        b'ok usage="dial NUMBER [SECONDS]" help="call a number"\r\n'
    ]
    assert feed(console, b"help boom\n") == [b"ok usage=boom help=fail\r\n"]
    assert feed(console, b"help nothing\n") == [b"error unknown-command nothing\r\n"]


def test_a_handler_exception_is_answered_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    console, _ = make_console()
    with caplog.at_level(logging.ERROR, logger="phoneagent.console"):
        assert feed(console, b"boom\necho still-alive\n") == [
            b"error internal\r\n",
            b"ok w0=still-alive\r\n",
        ]
    (record,) = caplog.records
    assert "boom" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


def test_a_handler_returning_garbage_is_an_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    registry = CommandRegistry()
    registry.register("bad", lambda args: "ok", usage="", help="returns a str")  # type: ignore[arg-type, return-value]
    registry.register("badkey", lambda args: CommandResult.ok(**{"Bad": 1}), usage="", help="")
    console = ConsoleProtocol(registry)
    with caplog.at_level(logging.ERROR, logger="phoneagent.console"):
        assert feed(console, b"bad\nbadkey\n") == [b"error internal\r\n"] * 2
    assert len(caplog.records) == 2


def test_command_result() -> None:
    assert bytes(CommandResult.ok()) == b"ok\r\n"
    assert bytes(CommandResult.ok(a=1, b="x y")) == b'ok a=1 b="x y"\r\n'
    assert bytes(CommandResult.fail("busy")) == b"error busy\r\n"
    assert bytes(CommandResult.fail("busy", "in a call")) == b"error busy in a call\r\n"
    assert CommandResult.ok().is_ok and not CommandResult.fail("busy").is_ok
    with pytest.raises(ValueError, match="kebab-case"):
        CommandResult.fail("Busy")
    with pytest.raises(ValueError, match="no fields"):
        CommandResult(fields=(("a", 1),), reason="busy")
    with pytest.raises(ValueError, match="no detail"):
        CommandResult(detail="why")


def test_registering() -> None:
    registry = CommandRegistry()
    registry.register("mute", lambda args: CommandResult.ok(), usage="  [on|off]  ", help="")
    command = registry.get("mute")
    assert command is not None and command.synopsis == "mute [on|off]"
    assert (command.min_args, command.max_args) == (0, 1)
    assert "mute" in registry and "nope" not in registry
    assert registry.names() == ["help", "mute"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("mute", lambda args: CommandResult.ok(), usage="", help="")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("help", lambda args: CommandResult.ok(), usage="", help="")
    with pytest.raises(ValueError, match=r"\[a-z\]"):
        registry.register("Mute", lambda args: CommandResult.ok(), usage="", help="")


@pytest.mark.parametrize(
    ("usage", "arity"),
    [
        ("", (0, 0)),
        ("A", (1, 1)),
        ("A B", (2, 2)),
        ("A [B]", (1, 2)),
        ("[A] [B]", (0, 2)),
        ("A...", (1, None)),
        ("A [B...]", (1, None)),
        ("[A...]", (0, None)),
        ("KEY=VALUE", (1, 1)),
    ],
)
def test_usage_gives_the_argument_counts(usage: str, arity: tuple[int, int | None]) -> None:
    registry = CommandRegistry()
    registry.register("x", lambda args: CommandResult.ok(), usage=usage, help="")
    command = registry.get("x")
    assert command is not None and (command.min_args, command.max_args) == arity


@pytest.mark.parametrize("usage", ["[A] B", "A... B", "[A", "A]", "[[A]]", "[A]..."])
def test_bad_usage_is_refused(usage: str) -> None:
    registry = CommandRegistry()
    with pytest.raises(ValueError, match="bad usage"):
        registry.register("x", lambda args: CommandResult.ok(), usage=usage, help="")


def test_parse_fields_refuses_words_that_are_not_fields() -> None:
    assert parse_fields(["a=1", "b=", "c=x=y"]) == {"a": "1", "b": "", "c": "x=y"}
    with pytest.raises(ValueError, match="key=value"):
        parse_fields(["novalue"])
    with pytest.raises(ValueError, match="key=value"):
        parse_fields(["Bad=1"])


# -- whatever arrives, every answer is one line ------------------------------------------


@given(
    data=st.binary(max_size=2000),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
)
def test_any_bytes_give_one_line_answers_whatever_the_chunks(data: bytes, cuts: list[int]) -> None:
    positions = sorted({0, len(data), *(cut for cut in cuts if cut <= len(data))})
    chunks = [data[start:end] for start, end in itertools.pairwise(positions)]
    answers = answers_for(chunks)
    assert answers == answers_for([data])
    for answer in answers:
        assert answer.endswith(b"\r\n")
        assert b"\r" not in answer[:-2] and b"\n" not in answer[:-2]
        assert answer.startswith((b"ok", b"error "))
        answer.decode("utf-8")


@given(lines=st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)))
def test_every_command_line_is_answered_exactly_once(lines: list[str]) -> None:
    console, _ = make_console()
    data = "".join(line + "\r\n" for line in lines).encode()
    commands = [line for line in lines if line.strip()]
    assert len(feed(console, data)) == len(commands)
