"""A generated hostile vault: every kind of bad input kg promises to survive, with what kg should do.

`make_hostile_vault(root)` writes the vault and returns a description other tests check against:

- "notes": vault path -> what the note must read as (title, and where it matters authors, date,
  encoding, kind) plus "problem": a phrase the report must hold for that path, or None.
- "skipped": vault path -> a phrase of the reason it was reported and not read.
- "not_walked": vault paths inside hidden and tool folders, which kg ignores without a word.
- "strings": hostile strings placed in titles, authors, tags, links and bodies; no output may carry
  them unescaped where they could act (HTML) or break the syntax (Turtle, GraphML).

All text is written here; nothing comes from the sample corpus.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

# A few plain sentences for bodies, in the style of the vault (written for these tests).
SENTENCES = (
    "这是一篇关于人工智能产品的测试笔记。",
    "今天我们试用了新的语言模型，它可以根据文字生成图片。",
    "团队认为这个功能很适合做海报和插画。",
    "写作者应该先说明背景，再给出结论。",
    "OpenAI 发布了 GPT-4o，谷歌发布了 Gemini。",
)

SCRIPT = "<script>alert('kg')</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
CLOSE_SCRIPT = "</script><script>alert(2)</script>"
TEMPLATE = "{{ 7*7 }}{% raw %}"
IRI_BREAKERS = 'a b"<>{}|^`\\c'

BIG_NOTE_BYTES = 2 * 1024 * 1024
LONG_LINE_BYTES = 1024 * 1024
OVER_LIMIT_BYTES = 65 * 1024 * 1024  # over kg.read.MAX_NOTE_BYTES; written sparse, costs no disk


def kg_name(rel: str) -> str:
    """The name kg gives a file: a GBK file name read as GB18030, control characters as U+FFFD."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        rel = os.fsencode(rel).decode("gb18030")
    return re.sub("[\x00-\x1f\x7f\ufffe\uffff]", "\ufffd", rel)


def body(n: int = 3, *, start: int = 0) -> str:
    """`n` sentences, one paragraph each."""
    return "\n\n".join(SENTENCES[(start + i) % len(SENTENCES)] for i in range(n)) + "\n"


def make_hostile_vault(root: Path, *, big: bool = True) -> dict:
    """Write the hostile vault under `root` (created if missing); return what was written and what kg must do.

    With `big=False` the large-note cases are left out (for tests that build many times).
    """
    root.mkdir(parents=True, exist_ok=True)
    notes: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    not_walked: list[str] = []

    def put(rel: str, data: bytes | str, expect: dict | None = None, *, skip: str | None = None) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        if skip is not None:
            skipped[rel] = skip
        elif expect is not None:
            notes[rel] = {"problem": None, **expect}
        return path

    # --- encodings and line ends -----------------------------------------------------------------
    put("encoding/utf8.md", "---\ntitle: 普通笔记\n作者: 甲\n---\n" + body(), {"title": "普通笔记", "authors": ("甲",), "encoding": "utf-8"})
    put("encoding/utf8-bom.md", codecs.BOM_UTF8 + "---\ntitle: 带签名的笔记\n---\n".encode() + body().encode(),
        {"title": "带签名的笔记", "encoding": "utf-8-sig"})
    utf16 = "---\ntitle: 十六位编码\n发布日期: 2024-05-06\n---\n" + body()
    put("encoding/utf16-le-bom.md", codecs.BOM_UTF16_LE + utf16.encode("utf-16-le"), {"title": "十六位编码", "date": "2024-05-06", "encoding": "utf-16"})
    put("encoding/utf16-be-bom.md", codecs.BOM_UTF16_BE + utf16.encode("utf-16-be"), {"title": "十六位编码", "date": "2024-05-06", "encoding": "utf-16"})
    put("encoding/utf16-le-no-bom.md", utf16.encode("utf-16-le"), {"title": "十六位编码", "encoding": "utf-16-le", "problem": "utf-16-le"})
    put("encoding/gbk-tiny.md", "---\ntitle: 旧笔记\n---\n短文。\n".encode("gbk"), {"title": "旧笔记", "encoding": "gb18030", "problem": "gb18030"})
    put("encoding/gbk-short.md", ("---\ntitle: 旧系统保存的笔记\n作者: [张三, 李四]\n---\n" + SENTENCES[0]).encode("gbk"),
        {"title": "旧系统保存的笔记", "authors": ("张三", "李四"), "encoding": "gb18030", "problem": "gb18030"})
    put("encoding/gbk-long.md", ("---\n标题: 很长的旧笔记\n---\n" + body(40)).encode("gbk"), {"title": "很长的旧笔记", "encoding": "gb18030"})
    put("encoding/gb18030-rare.md", ("---\ntitle: 生僻字𠀀与表情😀\n---\n" + body()).encode("gb18030"), {"title": "生僻字𠀀与表情😀", "encoding": "gb18030"})
    put("encoding/crlf.md", ("---\r\ntitle: 回车换行\r\n作者: 乙\r\n---\r\n" + body().replace("\n", "\r\n")).encode(),
        {"title": "回车换行", "authors": ("乙",)})
    put("encoding/cr.md", ("---\rtitle: 老式回车\r---\r" + body().replace("\n", "\r")).encode(), {"title": "老式回车"})
    put("encoding/damaged-utf8.md", ("---\ntitle: 截断的笔记\n---\n" + body(10) + "最后一个字").encode()[:-1],
        {"title": "截断的笔记", "problem": "not UTF-8; replaced"})
    put("encoding/nul-padded.md", ("---\ntitle: 尾部空字节\n---\n" + body()).encode() + b"\0" * 512,
        {"title": "尾部空字节", "problem": "NUL bytes; removed"})
    put("encoding/stray-nul.md", "---\ntitle: 中间的空字节\n---\n" + body(5) + "\0" + body(5), {"title": "中间的空字节", "problem": "contains 1 NUL bytes; removed"})
    put("encoding/control-chars.md", "---\ntitle: 控制\x01字符\n---\n正文\x0b里有\x1b控制字符。\n",
        {"title": "控制字符", "problem": "control character"})
    put("encoding/empty.md", b"", {"title": "empty"})

    # --- binary files with a note's name -----------------------------------------------------------
    put("binary/image.md", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 8, skip="binary")
    put("binary/controls.txt", bytes((i * 7) % 31 + 1 for i in range(4000)), skip="binary")
    put("binary/bad-bom.md", codecs.BOM_UTF16_LE + b"\x00\xd8", skip="byte-order mark")

    # --- frontmatter -------------------------------------------------------------------------------
    put("meta/broken-yaml.md", "---\ntitle: 对比: GPT vs Gemini\n作者: [甲, 乙]\n发布日期: 2024-01-02\n---\n" + body(),
        {"title": "对比: GPT vs Gemini", "authors": ("甲", "乙"), "date": "2024-01-02", "problem": "not valid YAML"})
    put("meta/no-closing.md", "---\ntitle: 没有结束线\n作者: 丙\n\n" + body(), {"title": "no-closing", "problem": "no closing"})
    put("meta/python-object.md", '---\ntitle: !!python/object/apply:os.system ["echo pwned"]\n作者: !!python/name:os.getcwd 丁\n---\n' + body(),
        {"title": "echo pwned", "authors": ("丁",), "problem": "YAML tags"})
    put("meta/python-whole.md", "---\n!!python/object:collections.OrderedDict\ntitle: 整体标签\n---\n" + body(),
        {"title": "整体标签", "problem": "YAML tags"})
    put("meta/authors-list.md", "---\ntitle: 两位作者\n作者: [甲, 乙]\ntags: [AI, 工具]\n---\n" + body(),
        {"title": "两位作者", "authors": ("甲", "乙")})
    put("meta/date-slash.md", "---\ntitle: 斜线日期\n发布日期: 2025/3/26\n---\n" + body(), {"title": "斜线日期", "date": "2025-03-26"})
    put("meta/date-quoted.md", '---\ntitle: 引号日期\n发布日期: "2025-03-26"\n---\n' + body(), {"title": "引号日期", "date": "2025-03-26"})
    put("meta/date-datetime.md", "---\ntitle: 时间戳\ndate: 2025-03-26T23:30:00+08:00\nupdated: 2025-03-27 08:00\n---\n" + body(),
        {"title": "时间戳", "date": "2025-03-26", "updated": "2025-03-27"})
    put("meta/date-chinese.md", "---\ntitle: 中文日期\n发布日期: 2025年3月26日\n---\n" + body(), {"title": "中文日期", "date": "2025-03-26"})
    put("meta/date-impossible.md", "---\ntitle: 不存在的日期\n发布日期: 2025-13-45\n作者: 戊\n---\n" + body(),
        {"title": "不存在的日期", "date": None, "authors": ("戊",), "problem": "not a date"})
    put("meta/list-frontmatter.md", "---\n- 一\n- 二\n---\n" + body(), {"title": "list-frontmatter", "problem": "not a `key: value` mapping"})
    put("meta/mapping-title.md", "---\ntitle: {a: b}\n---\n" + body(), {"title": "mapping-title", "problem": "holds a mapping"})
    put("meta/full-width-colon.md", "---\n标题：全角冒号\n---\n" + body(), {"title": "全角冒号", "problem": "not a `key: value` mapping"})
    put("meta/tab-indent.md", "---\ntitle: 制表符\n\ttags: x\n---\n" + body(), {"title": "制表符", "problem": "not valid YAML"})
    bomb = "a: &a [" + ",".join(["哈"] * 9) + "]\n"
    bomb += "".join(f"l{i}: &l{i} [" + ",".join([f"*{'a' if i == 0 else f'l{i - 1}'}"] * 9) + "]\n" for i in range(9))
    put("meta/alias-bomb.md", f"---\ntitle: 别名炸弹\n{bomb}tags: *l8\n---\n" + body(), {"title": "别名炸弹"})
    put("meta/giant-frontmatter.md", "---\ntitle: 巨大的头部\n" + "".join(f"key{i}: {SENTENCES[i % 5]}\n" for i in range(6000)) + "---\n" + body(),
        {"title": "巨大的头部", "problem": "too long to be YAML"})
    put("meta/only-frontmatter.md", "---\ntitle: 只有头部\n---\n", {"title": "只有头部"})
    put("meta/rule-not-frontmatter.md", "---\n\n第一段不是元数据。\n\n---\n\n" + body(), {"title": "rule-not-frontmatter", "problem": "not a `key: value` mapping"})

    # --- duplicate titles stay distinct articles ----------------------------------------------------
    for folder in ("dup-a", "dup-b"):
        put(f"{folder}/同名.md", "---\ntitle: 同名文章\n发布日期: 2024-02-02\n---\n" + body(start=1), {"title": "同名文章", "date": "2024-02-02"})

    # --- hostile strings in every field --------------------------------------------------------------
    strings = [SCRIPT, ATTRIBUTE, CLOSE_SCRIPT, TEMPLATE, IRI_BREAKERS]
    put("hostile/script.md",
        f"---\ntitle: \"{SCRIPT}\"\n作者: '{ATTRIBUTE}'\ntags: ['{TEMPLATE}']\n来源: '{CLOSE_SCRIPT}'\n"
        f"url: 'javascript:alert(3)'\n发布日期: 2024-03-03\n---\n{SCRIPT}\n\n[[{IRI_BREAKERS.replace('|', '')}]] [[&quot;引号&quot;]]\n" + body(),
        {"title": SCRIPT, "authors": (ATTRIBUTE,)})
    put(f"hostile/{IRI_BREAKERS.replace(chr(92), '')}.md", f"---\ntitle: '{IRI_BREAKERS}'\n---\n" + body(), {"title": IRI_BREAKERS})
    put("hostile/换行\n名字.md", "---\ntitle: 名字里有换行\n---\n" + body())
    notes["hostile/换行\ufffd名字.md"] = {"title": "名字里有换行", "problem": "control characters"}

    # --- the walk ------------------------------------------------------------------------------------
    for rel in (".obsidian/workspace.md", ".git/notes.md", "node_modules/pkg/readme.md", ".trash/old.md", "sub/.hidden.md"):
        put(rel, "---\ntitle: 不应读取\n---\n不应读取。\n")
        not_walked.append(rel)
    put("walk/target.md", "---\ntitle: 链接目标\n---\n" + body(), {"title": "链接目标"})
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.md").write_text("---\ntitle: 库外的笔记\n---\n库外。\n", encoding="utf-8")
    links = {
        "walk/loop": (".", True, "inside the vault"),
        "walk/up": ("..", True, "inside the vault"),
        "walk/outside-folder": (str(outside), True, "outside the vault"),
        "walk/outside-file.md": (str(outside / "secret.md"), False, "outside the vault"),
        "walk/dangling.md": ("nowhere.md", False, "loops or leads nowhere"),
        "walk/loop-a.md": ("loop-b.md", False, "loops or leads nowhere"),
        "walk/loop-b.md": ("loop-a.md", False, "loops or leads nowhere"),
    }
    symlinks = {}
    for rel, (target, is_dir, reason) in links.items():
        try:
            os.symlink(target, root / rel, target_is_directory=is_dir)
        except OSError:  # no symlinks on this platform
            continue
        symlinks[rel] = reason
        if not is_dir:
            skipped[rel] = reason
    if (root / "walk").is_dir() and hasattr(os, "symlink"):
        try:
            os.symlink("target.md", root / "walk/inside-link.md")
            notes["walk/inside-link.md"] = {"title": "链接目标", "problem": None}
        except OSError:
            pass
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "walk/pipe.md")
        skipped["walk/pipe.md"] = "not a regular file"
    if os.name == "posix":
        raw_name = "旧文件名.md".encode("gbk")
        with open(os.path.join(os.fsencode(root / "walk"), raw_name), "wb") as handle:
            handle.write("---\ntitle: 文件名是GBK\n---\n".encode() + body().encode())
        notes["walk/旧文件名.md"] = {"title": "文件名是GBK", "problem": "file name is not UTF-8"}
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root reads anything
        locked = put("walk/locked.md", "---\ntitle: 锁住\n---\n")
        locked.chmod(0)
        skipped["walk/locked.md"] = "cannot be read"

    # --- size ------------------------------------------------------------------------------------------
    if big:
        paragraph = body(len(SENTENCES))
        copies = BIG_NOTE_BYTES // len(paragraph.encode()) + 1
        put("size/big.md", "---\ntitle: 很大的笔记\n---\n" + paragraph * copies, {"title": "很大的笔记"})
        line = "".join(SENTENCES) * (LONG_LINE_BYTES // len("".join(SENTENCES).encode()) + 1)
        put("size/long-line.md", "---\ntitle: 很长的一行\n---\n" + line + "\n", {"title": "很长的一行"})
        with open(root / "size/over-limit.md", "wb") as handle:
            handle.truncate(OVER_LIMIT_BYTES)
        skipped["size/over-limit.md"] = "over the"

    return {"root": root, "notes": notes, "skipped": skipped, "not_walked": not_walked, "strings": strings,
            "symlinks": symlinks, "outside": outside}
