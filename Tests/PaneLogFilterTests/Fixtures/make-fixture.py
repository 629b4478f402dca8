#!/usr/bin/env python3
"""Writes agent-session.raw, a pane byte stream shaped like a coding agent's
(what `tmux pipe-pane` hands the hook), and agent-session.log, the transcript
a reader should get from it.

The expected log is written from what each part of the stream means, not by
running the filter, so the test compares the filter against intent.

Run it from anywhere; it writes beside itself. The test reads the committed
files, so regenerate only when the stream itself should change.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

raw = bytearray()
expected = []


def write(text):
    raw.extend(text.encode("utf-8"))


def line(shown, clean):
    """A real output line: drawn with `shown`, read as `clean`."""
    write(shown + "\r\n")
    expected.append(clean)


# Session start: window title, hidden cursor, bracketed paste, keypad and
# key-reporting modes, a terminal query and its DCS/APC cousins.
write("\x1b]0;agent: ticket-42\x07\x1b[?25l\x1b[?2004h\x1b[?1h\x1b=\x1b[>4;1m\x1b[6n")
write("\x1bP+q544e\x1b\\\x1b_Gi=31,s=1,v=1,a=q;AAAA\x1b\\")
line("\x1b[1m\x1b[38;5;208m✻\x1b[39m Welcome to the agent\x1b[0m", "✻ Welcome to the agent")
line("", "")
line("\x1b[2m  cwd: /srv/checkout\x1b[22m\x1b(B\x1b[m", "  cwd: /srv/checkout")
line("", "")

# Typed input echoed with a correction.
line("> fix teh\b\b\b\x1b[Kthe failing parser test", "> fix the failing parser test")
line("", "")

# Coloured output, a hyperlink (OSC 8 with ST), a C1 CSI written as UTF-8.
line("\x1b[32m●\x1b[39m Reading \x1b[1mSources/App/Parser.swift\x1b[22m (212 lines)",
     "● Reading Sources/App/Parser.swift (212 lines)")
line("  See \x1b]8;;https://example.com/docs/parser\x1b\\the parser docs\x1b]8;;\x1b\\ for the grammar.",
     "  See the parser docs for the grammar.")
line("  \u009b1mnaïve café\u009b0m — 日本語のテスト ✓ 🎉", "  naïve café — 日本語のテスト ✓ 🎉")
line("  key\tvalue\x1b[38;2;255;128;0m\tpadded   \x1b[0m", "  key\tvalue\tpadded")

# A braille spinner redrawn 500 times with \r, then erased.
braille = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
for frame in range(500):
    write(f"\r\x1b[36m{braille[frame % len(braille)]}\x1b[0m Thinking… "
          f"\x1b[2m({frame // 10}s · esc to interrupt)\x1b[22m")
write("\r\x1b[2K")
line("\x1b[32m●\x1b[39m I'll start with the failing test.", "● I'll start with the failing test.")

# Incident 8: a shimmering "Working…" — every frame recolours each letter and
# rewrites one in place by moving the cursor back over it. Stripping the
# escapes without following the cursor gives "WWoorrkkiinngg…".
word = "Working…"
for frame in range(60):
    write("\r")
    for position, character in enumerate(word):
        write(f"\x1b[38;5;{244 + (position + frame) % 8}m{character}")
    lit = frame % len(word)
    write(f"\x1b[{len(word) - lit}D\x1b[1m{word[lit]}\x1b[22m")
    if len(word) - lit - 1 > 0:
        write(f"\x1b[{len(word) - lit - 1}C")
    write("\x1b[0m")
write("\r\x1b[K")
line("\x1b[38;5;174m✻\x1b[0m Worked for 6s", "✻ Worked for 6s")

# A progress bar from 0 to 100% redrawn with \r, and a second one whose final
# text is shorter and relies on erase-to-end-of-line.
for percent in range(101):
    filled = percent // 5
    write(f"\rDownloading fixtures \x1b[32m{'█' * filled}\x1b[90m{'░' * (20 - filled)}\x1b[0m {percent:3d}%")
line("", "Downloading fixtures " + "█" * 20 + " 100%")
for percent in range(0, 101, 4):
    write(f"\rIndexing {percent}% (ETA {(100 - percent) // 10}s)")
write("\rIndexed 1,204 files\x1b[K")
line("", "Indexed 1,204 files")

# A three-line status block redrawn 50 times by moving up over it with ESC[3A,
# with real output lines printed above it from time to time (the block is
# cleared with ESC[J, the line written, the block drawn again below it).
def block(tick):
    return [
        f"  {braille[tick % len(braille)]} Running tests: {tick * 4} of 200",
        f"  ├─ passed: {tick * 4 - tick // 10}  failed: {tick // 10}",
        f"  └─ elapsed: {tick / 10:.1f}s",
    ]


for text in block(0):
    write(text + "\r\n")
for tick in range(1, 51):
    write("\x1b[3A")
    if tick % 10 == 0:
        write("\x1b[J")
        line(f"\x1b[31mFAIL\x1b[0m Tests/ParserTests.swift:{100 + tick}: expected 3, got 4",
             f"FAIL Tests/ParserTests.swift:{100 + tick}: expected 3, got 4")
    for text in block(tick):
        if tick % 2:
            write("\x1b[2K" + text + "\r\n")
        else:
            write(text + "\x1b[K\r\n")
expected.extend(block(50))

line("", "")
line("\x1b[1mSummary\x1b[0m: 195 passed, 5 failed", "Summary: 195 passed, 5 failed")

# A pager in the alternate screen: dropped, with one note in its place.
write("\x1b[?1049h\x1b[H\x1b[2J")
for number in range(1, 30):
    write(f"\x1b[{number};1H{number:4d}  func parse(_ input: String) throws -> Syntax {{\x1b[K")
write("\x1b[30;1H\x1b[7m:\x1b[27m\x1b[?1049l")
expected.append("[full-screen output omitted]")

line("\x1b[32m●\x1b[39m Fixed: the tokenizer skipped the last character.",
     "● Fixed: the tokenizer skipped the last character.")
write("\x1b[?2004l\x1b[?25h\x1b]0;\x07")
line("DONE", "DONE")

with open(os.path.join(HERE, "agent-session.raw"), "wb") as out:
    out.write(raw)
with open(os.path.join(HERE, "agent-session.log"), "w", encoding="utf-8", newline="\n") as out:
    out.write("".join(text + "\n" for text in expected))
