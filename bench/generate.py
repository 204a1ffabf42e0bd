"""Generate a synthetic vault of N notes from a sample vault, for benchmarks.

    python bench/generate.py OUT_FOLDER --notes 50000 [--from VAULT] [--chars TOTAL] [--seed 1]

Deterministic: the same sample, arguments and seed give the same files, byte for byte.
The sample's articles are cut into paragraphs and recombined into new articles whose lengths
follow the sample's; its topic notes are copied under new names (`AI`, `AI-2`, `AI-3`, ...) so
topics keep the sample's share of the vault. Every note has frontmatter with Chinese keys
(标题, 发布日期, 作者, 来源, 原文链接, 标签 / 类型, 更新日期) and wiki-links: articles to other articles
(相关文档) and to topics (关联主题), topics to topics. Nothing is downloaded; the text is the sample's.

Write into a folder outside the repository or under bench/out/ (ignored by git).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import frontmatter
import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLE = Path(os.environ.get("KG_CORPUS", REPO.parent / "shared" / "corpus"))
# Headings after which an article only lists links; their paragraphs are not reused as prose.
LINK_HEADINGS = ("## 相关文档", "## 关联主题", "## 相关主题")
FIRST_DAY, DAYS = date(2019, 1, 1), 7 * 365


@dataclass(frozen=True)
class SampleNote:
    """What the generator needs of one sample note (read here, independent of kg's reader)."""

    stem: str
    title: str
    body: str
    authors: tuple[str, ...]
    source: str | None
    aliases: tuple[str, ...]


@dataclass
class Sample:
    """What the generator recombines: the sample's paragraphs, article shapes and topics."""

    paragraphs: list[str]
    summaries: list[str]
    articles: list[SampleNote]
    topics: list[SampleNote]


def read_sample_note(path: Path) -> tuple[SampleNote, bool]:
    """(the note, whether it is a topic: 类型 ending in 词条)."""
    post = frontmatter.loads(path.read_text(encoding="utf-8-sig"))
    meta = post.metadata

    def listed(*keys: str) -> tuple[str, ...]:
        for key in keys:
            value = meta.get(key)
            if value:
                return tuple(str(v) for v in value) if isinstance(value, list) else tuple(str(value).replace("、", ",").split(","))
        return ()

    note = SampleNote(
        stem=path.stem,
        title=str(meta.get("title") or meta.get("标题") or path.stem),
        body=post.content,
        authors=tuple(a.strip() for a in listed("作者", "author") if a.strip()),
        source=str(meta["来源"]) if meta.get("来源") else None,
        aliases=listed("别名", "aliases"),
    )
    return note, str(meta.get("类型", "")).endswith("词条")


def load_sample(vault: Path) -> Sample:
    articles, topics = [], []
    for path in sorted(vault.rglob("*.md"), key=lambda p: p.relative_to(vault).as_posix()):
        note, is_topic = read_sample_note(path)
        (topics if is_topic else articles).append(note)
    if not articles or not topics:
        raise SystemExit(f"{vault}: needs both articles and topic notes to recombine")
    paragraphs, summaries = [], []
    for note in articles:
        prose = _before_links(note.body)
        blocks = [b.strip() for b in prose.split("\n\n") if b.strip() and "[[" not in b]
        if blocks and blocks[0].startswith("## 摘要"):
            cut = next((i for i, b in enumerate(blocks[1:], 1) if b.startswith("## ")), len(blocks))
            summaries.append("\n\n".join(blocks[:cut]))
            blocks = blocks[cut:]
        paragraphs.extend(blocks)
    return Sample(paragraphs=paragraphs, summaries=summaries or ["## 摘要"], articles=articles, topics=topics)


def _before_links(body: str) -> str:
    cut = min((body.find(h) for h in LINK_HEADINGS if h in body), default=len(body))
    return body[:cut]


def topic_names(sample: Sample, count: int) -> list[str]:
    """`count` topic names: the sample's own, then numbered copies of them."""
    stems = [t.stem for t in sample.topics]
    return [stems[i % len(stems)] if i < len(stems) else f"{stems[i % len(stems)]}-{i // len(stems) + 1}" for i in range(count)]


def generate(sample: Sample, out: Path, *, notes: int, chars: int | None, seed: int) -> tuple[int, int]:
    """Write `notes` notes into `out`; returns (notes written, characters written)."""
    rng = random.Random(seed)
    topic_count = max(1, round(notes * len(sample.topics) / (len(sample.topics) + len(sample.articles))))
    article_count = max(1, notes - topic_count)
    mean_article = sum(len(a.body) for a in sample.articles) / len(sample.articles)
    mean_topic = sum(len(t.body) for t in sample.topics) / len(sample.topics)
    scale = max(0.05, (chars - topic_count * mean_topic) / (article_count * mean_article)) if chars else 1.0
    topics = topic_names(sample, topic_count)
    articles = []  # (folder, title) of every article, decided first so related links can point forward
    for i in range(article_count):
        template = rng.choice(sample.articles)
        author = template.authors[0] if template.authors else "佚名"
        articles.append((f"01-博客/{_safe(author)}", f"{_safe(template.title)}（{i + 1}）", template))
    written = 0
    for i, (folder, title, template) in enumerate(articles):
        text = _article(rng, sample, template, title, i, topics, articles, scale)
        written += _write(out / folder / f"{title}.md", text)
    for i, name in enumerate(topics):
        source = sample.topics[i % len(sample.topics)]
        written += _write(out / "00-元语" / f"{name}.md", _topic(rng, source, name, topics))
    return article_count + topic_count, written


def _article(rng: random.Random, sample: Sample, template: SampleNote, title: str, number: int, topics: list[str], articles: list, scale: float) -> str:
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
    tags = sorted(set(rng.sample(topics, k=min(len(topics), rng.randint(1, 3)))))
    meta = {"title": title, "来源": _source(template, number), "发布日期": day.isoformat(), "作者": template.authors[0] if template.authors else "佚名", "标签": tags}
    if template.source == "微信公众号":
        meta["原文链接"] = f"https://mp.weixin.qq.com/s/{rng.getrandbits(64):016x}"
    target = len(template.body) * scale
    parts = [rng.choice(sample.summaries), "## 正文"]
    length = sum(len(p) for p in parts)
    while length < target:
        paragraph = rng.choice(sample.paragraphs)
        parts.append(paragraph)
        length += len(paragraph) + 2
    related = [articles[rng.randrange(len(articles))] for _ in range(rng.randint(1, 3))]
    parts.append("## 相关文档\n\n" + "\n".join(f"- [[{folder}/{name}|{name}]]；关联理由：延伸阅读" for folder, name, _ in related))
    parts.append("## 关联主题\n\n" + "\n".join(f"- [[00-元语/{name}]]" for name in sorted(set(rng.sample(topics, k=min(len(topics), rng.randint(3, 7)))))))
    return _frontmatter(meta) + "\n\n".join(parts) + "\n"


def _topic(rng: random.Random, source: SampleNote, name: str, topics: list[str]) -> str:
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
    meta = {"title": name, "类型": "主题词条", "更新日期": day.isoformat()}
    if source.aliases:
        meta["别名"] = list(source.aliases)
    prose = [b.strip() for b in _before_links(source.body).split("\n\n") if b.strip() and "[[" not in b]
    others = sorted(set(rng.sample(topics, k=min(len(topics), rng.randint(2, 5)))) - {name})
    prose.append("## 相关主题\n\n" + "\n".join(f"- [[00-元语/{other}|{other}]]" for other in others))
    return _frontmatter(meta) + "\n\n".join(prose) + "\n"


def _source(template: SampleNote, number: int) -> str:
    if template.source and template.source.startswith("http"):
        return f"{template.source.rstrip('/')}-{number + 1}"
    return template.source or "微信公众号"


def _frontmatter(meta: dict) -> str:
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000) + "---\n\n"


def _safe(name: str) -> str:
    """A file or folder name: no path separators, no characters wiki-links or file systems reserve."""
    cleaned = "".join(" " if ch in '/\\:*?"<>|#^[]' else ch for ch in name).strip()
    return " ".join(cleaned.split())[:80] or "无题"


def _write(path: Path, text: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the vault into (emptied first)")
    parser.add_argument("--notes", type=int, default=10_000, help="how many notes (default 10000)")
    parser.add_argument("--chars", type=int, default=None, help="about how many characters in all (default: the sample's mean note length)")
    parser.add_argument("--from", dest="sample", type=Path, default=DEFAULT_SAMPLE, help="the sample vault (default: ../shared/corpus or $KG_CORPUS)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    out = args.out.resolve()
    if out == REPO or (out.is_relative_to(REPO) and not out.is_relative_to(REPO / "bench" / "out")):
        raise SystemExit(f"{args.out}: write generated vaults outside the repository or under bench/out/")
    if out.exists():
        shutil.rmtree(out)
    sample = load_sample(args.sample)
    count, chars = generate(sample, out, notes=args.notes, chars=args.chars, seed=args.seed)
    print(f"{count} notes, {chars:,} characters -> {args.out}")


if __name__ == "__main__":
    main()
