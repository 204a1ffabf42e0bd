"""Discovery: names nobody put in a dictionary, found by their shape and the words around them.

New models ship every week, so the dictionary is never complete. Each rule here is a pattern that,
in this kind of text, names a product, an organization or a person with high precision:

- a known product followed by a version (`即梦2.1`, `Midjourney V6`, `Gemini 3 Pro`): a new version;
- Latin-script names with versions or inner capitals inside Chinese text (`Veo 3`, `Qwen-Image`,
  `Claude 3.7 Sonnet`, `DeepResearch`), and rare capitalised words used more than once (`Manus`);
- cue phrases: `…公司/团队/实验室/大学` (organizations), `CEO/创始人/教授 …` and `… 表示/说` (people),
  Chinese transliterations with `·` (`卡尔·马克思`), Western names starting with a given name;
- a short form the same article introduced (`4o` after `GPT-4o`);
- maker patterns: `OpenAI 的 Sora`, `字节发布了即梦`.

Everything is a pure function of the text and the Matcher's data; no global state.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from kg.model import ORGANIZATION, PERSON, PRODUCT, Mention, Relation
from kg.normalize import is_latin_word_char, name_key

HAN = "\u3400-\u9fff"

Cut = Callable[[str], list[str]]

# Words that, after a version number, are part of the product's name.
MODIFIERS = frozenset(
    "pro ultra flash mini max turbo plus sonnet opus haiku lite nano preview exp experimental thinking instruct chat "
    "coder vision omni large medium small base next air edge deep fast hd high low".split()
)
MODIFIER_AFTER = re.compile(r"(?:[ -](?:" + "|".join(sorted(MODIFIERS - {"base", "next", "air", "edge", "deep", "fast", "high", "low", "small", "medium", "large", "chat", "vision", "hd"})) + r"))+(?![A-Za-z0-9])", re.I)
# A number followed by one of these is a quantity, not a version (`ChatGPT 3 次`).
MEASURE = re.compile(r"\s*(?:次|个|张|天|年|月|日|号|分钟|分|秒|小时|元|美元|块|刀|倍|万|亿|千|百|%|％|人|条|篇|页|款|种|位|家|台|帧|步|点|楼|层|轮|周|岁|代|期|集|章|节|行|字|MB|GB|KB|TB|ms|s\b|K\b|k\b)")
VERSION = re.compile(r"([ \t]?)([vV]?\d+(?:\.\d+)*(?:[a-zA-Z](?![a-zA-Z]))?)((?:[ \t-](?:" + "|".join(sorted(MODIFIERS)) + r")\b)*)", re.I)

# A Latin-script word inside Chinese text (letters, digits, inner - . _ +).
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9._+\-])[A-Za-z][A-Za-z0-9]*(?:[.\-_+][A-Za-z0-9]+)*")
TITLE_SEQUENCE = re.compile(r"(?<![A-Za-z0-9.\-])(?:[A-Z][a-z0-9]+|[A-Z]{2,4})(?: (?:[A-Z][a-z0-9]+|[A-Z]{2,4}|AI|of|for|and|the)){1,3}(?![A-Za-z0-9\-])")
ORG_WORDS = frozenset("Labs Lab Inc Research Studio Studios University Institute Team Foundation Group Corp Company Technologies Academy College School Capital Ventures Media News Times Post".split())
SIZE = re.compile(r"\d{2,}(?:\.\d+)?[kKmMgGtT]")
# `OpenAI`, `xAI`, `DeepAI`: a lab's name, not a product's (products add a noun: ChatGPT, Grok).
LAB_NAME = re.compile(r"(?:[A-Z][a-z]{2,}|[a-z])AI")
CODE_LIKE = re.compile(r"\.(?!js\b|ai\b|io\b)[a-z]{2,}\b|_|\.(?:mp4|mp3|png|jpe?g|gif|py|txt|md|json|html?)$", re.I)
CAMEL = re.compile(r"[a-z][A-Z]|^[A-Z][a-z]+[A-Z]|^i[A-Z]")
HEXLIKE = re.compile(r"^(?=.*\d)[0-9a-fA-F]{8,}$|^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9]{16,}$")

ORG_CUE_AFTER = re.compile(r"\s*(?:公司|团队|官方|集团|创始人|联合创始人|CEO|首席|CTO|总裁|实验室|研究院|的研究人员|的工程师|员工|内部|股价|市值|融资|估值|收购|发布|推出|开源|宣布|官宣)")
PRODUCT_CUE_AFTER = re.compile(r"\s*(?:模型|大模型|App|APP|app|应用|插件|平台|工具|网站|客户端|生成|出图|绘图|画图|版本|官网|产品)")
ORG_SUFFIX = re.compile(rf"([{HAN}A-Za-z0-9]{{2,12}}?)(公司|集团|科技|实验室|研究院|研究所|大学|学院|基金会|研究中心)(?![{HAN}]{{0,1}}(?:的?(?:产品|模型)))")
KEEP_SUFFIX = frozenset({"实验室", "研究院", "研究所", "大学", "学院", "基金会", "研究中心", "科技"})
PERSON_ROLE_BEFORE = re.compile(
    rf"(?:CEO|CTO|COO|创始人|联合创始人|创办人|首席执行官|首席科学家|首席技术官|董事长|总裁|总经理|副总裁|负责人|教授|研究员|科学家|工程师|作者|主编|院士|图灵奖得主|导演|编剧|主创|制片人|博主|UP主|up主|艺术家|设计师|画师|摄影师|创作者|开发者|演员|歌手|主持人|记者)\s*[:：]?\s*"
)
AUX_CHARS = frozenset("会也就都曾又还却则便才已正将要能可在对把被给跟和与是说这那")
GENERIC_ORG_STEMS = frozenset(
    "中国 美国 英国 日本 韩国 法国 德国 印度 俄罗斯 加拿大 欧洲 亚洲 全球 国内 国外 海外 西方 东方 世界 国际 全国 各大 知名 顶尖 "
    "师范 理工 工业 农业 医科 财经 政法 交通 电子 外国语 艺术 体育 传媒 人工智能 科技 技术 英文 中文 纳米".split()
)
FUNCTION_CHARS = frozenset("的了是在和与及把被从对于这那家个位该由给向让一些也都还就很更最不没我你他她它们")
HAN_ONLY = re.compile(f"[{HAN}]+")
NAME_BEFORE = frozenset("和与及、的是被向对跟给让请由据说")
PERSON_CUE = re.compile(r"(?:说|教授|博士|老师|先生|女士|院士|同学|导演|表示|认为|指出|透露|曾说|曾经说|坦言|强调|在推特|在X上|发推|说道|称)")
# Characters of Chinese transliterations of foreign names (Xinhua's table, the common part).
TRANSLIT_CHARS = (
    "阿埃艾爱安昂奥巴拜班邦贝本比彼毕波伯博布查达戴丹道德登迪蒂丁东杜多厄恩尔法凡范菲费芬丰弗福富盖甘冈戈格哥"
    "古瓜圭果哈海汉豪赫黑亨洪胡华怀惠霍基吉加贾简杰金卡凯坎康考柯科克肯库夸奎拉莱赖兰朗劳勒雷蕾里理利莉丽连"
    "林琳卢鲁路伦罗洛马玛迈麦曼芒梅门蒙米明莫默姆穆纳娜奈南内尼妮涅宁纽努诺欧帕派潘庞佩彭皮珀普齐奇恰乔切钦"
    "琼丘萨塞赛桑瑟森沙莎善尚舍施什史斯松苏索塔泰坦汤唐特提廷图托瓦万旺威韦维温沃乌伍西希锡夏谢辛休许雅亚"
    "扬耶伊因英尤于约詹泽扎佐祖茨蒂山姆夫娅琪薇茜萝瑞露丝黛婷茵鲍勃基门盖茨伯纳乔治珍妮玛丽凯瑟琳艾米文森"
)
TRANSLIT = re.compile(f"[{TRANSLIT_CHARS}]{{1,5}}·[{TRANSLIT_CHARS}]{{1,6}}(?:·[{TRANSLIT_CHARS}]{{1,6}})?(?![{TRANSLIT_CHARS}])")
WESTERN = re.compile(r"(?<![A-Za-z])([A-Z][a-z]+(?:-[A-Z][a-z]+)?) ([A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z]\.)(?: ([A-Z][a-z]+))?(?![A-Za-z])")
MAKER_BETWEEN = re.compile(r"^\s*(?:的|家的|旗下的?|最新的?|新的?|发布了?|推出了?|开源了?|上线了?|更新了?|官宣了?|发布的|推出的|开源的)\s*(?:新的?|最新的?|全新的?)?\s*$")
QUOTED = re.compile(rf"[「“《]([^」”》\n]{{2,20}})[」”》]")


@dataclass(frozen=True)
class Lexicon:
    """Word lists discovery needs: noise words (folded), English word frequency, names. The large
    sets (kg.cache.LARGE_WORD_LISTS) may be kg.words.Words, read as they are looked up: ask them
    only `in`."""

    noise: frozenset[str]
    given_names: frozenset[str]
    surnames: tuple[str, ...]
    common_english: frozenset[str]  # lower-case words too common to be a name on their own
    han_words: AbstractSet[str]  # common Chinese words that are never names alone
    ambiguous: frozenset[str] = frozenset()  # dictionary names that are also common words (联想, 苹果)
    known_english: AbstractSet[str] = frozenset()  # lower-case words of English (and other European languages)
    han_known: AbstractSet[str] = frozenset()  # Chinese words jieba knows with some frequency, proper or not
    names: frozenset[str] = frozenset()  # folded dictionary spellings
    places: frozenset[str] = frozenset()  # Chinese place names (jieba tag ns)


def discover(prose: str, known: list[Mention], lexicon: Lexicon, cut: Cut) -> tuple[list[Mention], list[Relation]]:
    """New mentions (not overlapping `known`) and relations found in `prose`."""
    taken = _Spans(m for m in known)
    found: list[Mention] = []
    relations: list[Relation] = []

    def add(surface: str, kind: str, start: int, end: int) -> bool:
        surface = surface.strip()
        if not surface or not taken.free(start, end) or name_key(surface) in lexicon.noise or len(name_key(surface)) < 2:
            return False
        taken.add(start, end)
        found.append(Mention(surface=surface, kind=kind, start=start, end=end, sentence=""))
        return True

    known = _drop_ambiguous(prose, known, lexicon)
    known = _extend_versions(prose, known, lexicon, relations)
    taken = _Spans(known)
    _people(prose, lexicon, add)
    _title_sequences(prose, lexicon, add)
    _latin_names(prose, lexicon, add, taken)
    _organizations(prose, lexicon, add, cut)
    _quoted(prose, lexicon, add)
    mentions = sorted(known + found, key=lambda m: (m.start, m.end, m.kind))
    mentions += _short_forms(prose, mentions, taken)
    mentions = _type_by_context(prose, mentions)
    relations += _makers(prose, mentions)
    return mentions, relations


class _Spans:
    """Character spans already claimed by a mention."""

    def __init__(self, mentions=()) -> None:
        self._taken: set[int] = set()
        for m in mentions:
            self.add(m.start, m.end)

    def free(self, start: int, end: int) -> bool:
        return not any(i in self._taken for i in range(start, end))

    def add(self, start: int, end: int) -> None:
        self._taken.update(range(start, end))


def _drop_ambiguous(prose: str, known: list[Mention], lexicon: Lexicon) -> list[Mention]:
    """Keep `联想` or `苹果` only where context makes it a name, or where the note also uses another spelling."""
    unambiguous_keys = {m.key for m in known if m.surface not in lexicon.ambiguous}
    products = _ProductStarts(known)
    out = []
    for mention in known:
        if mention.surface in lexicon.ambiguous and mention.key not in unambiguous_keys:
            after = prose[mention.end:mention.end + 12]
            if not (ORG_CUE_AFTER.match(after) or PRODUCT_CUE_AFTER.match(after) or products.made_after(prose, mention.end)):
                continue
        out.append(mention)
    return out


def _extend_versions(prose: str, known: list[Mention], lexicon: Lexicon, relations: list[Relation]) -> list[Mention]:
    """`即梦` + `2.1` -> product `即梦2.1`, a version of 即梦 (unless the dictionary already knew the whole name)."""
    out = []
    for mention in known:
        if mention.kind != PRODUCT:
            out.append(mention)
            continue
        match = VERSION.match(prose, mention.end)
        modifier = MODIFIER_AFTER.match(prose, mention.end) if mention.surface[-1:].isascii() else None
        if modifier and not (match and _is_version(prose, match, mention)):
            end = modifier.end()
            surface = prose[mention.start:end].strip()
            out.append(Mention(surface=surface, kind=PRODUCT, start=mention.start, end=end))
            relations.append(Relation(subject=surface, predicate="version_of", object=mention.key or mention.surface))
        elif match and _is_version(prose, match, mention):
            end = match.end()
            surface = prose[mention.start:end].strip()
            out.append(Mention(surface=surface, kind=PRODUCT, start=mention.start, end=end))
            relations.append(Relation(subject=surface, predicate="version_of", object=mention.key or mention.surface))
        else:
            out.append(mention)
    return out


def _is_version(prose: str, match: re.Match, mention: Mention) -> bool:
    number = match.group(2)
    if re.fullmatch(r"(?:19|20)\d\d", number) or len(number) > 8 or SIZE.fullmatch(number):
        return False  # a year, an id, or a size (100k context, 32G memory)
    if match.group(1) and not mention.surface[-1:].isascii() and "." not in number and not number[:1] in "vV":
        return False  # `即梦 2` across a space is more often a count; `可灵 1.6` is a version
    end = match.end()
    if end < len(prose) and (is_latin_word_char(prose[end]) or prose[end] in ".-"):
        return False
    if MEASURE.match(prose, end):
        return False
    if not match.group(1) and mention.surface[-1:].isdigit():
        return False
    return True


def _title_sequences(prose: str, lexicon: Lexicon, add) -> None:
    """`Advanced Voice Mode`, `Stability AI`, `Dream Machine`: capitalised words in a row inside Chinese text."""
    for match in TITLE_SEQUENCE.finditer(prose):
        words = match.group().split()
        if words[0] in lexicon.given_names or not _in_chinese_context(prose, match.start(), match.end()):
            continue
        if all(name_key(w) in lexicon.noise for w in words):
            continue
        lab = len(words) == 2 and words[1] == "AI" and name_key(words[0]) not in lexicon.names and words[0].lower() not in lexicon.common_english
        if words[-1] in ORG_WORDS or lab or ORG_CUE_AFTER.match(prose, match.end()):
            add(match.group(), ORGANIZATION, match.start(), match.end())
        elif PRODUCT_CUE_AFTER.match(prose, match.end()):
            add(match.group(), PRODUCT, match.start(), match.end())


def _latin_names(prose: str, lexicon: Lexicon, add, taken: _Spans) -> None:
    """Product names in Latin script: versions, inner capitals, or rare words."""
    words = [m for m in LATIN_WORD.finditer(prose) if taken.free(m.start(), m.end())]
    rare_counts = Counter(m.group() for m in words if _rare_capitalised(m.group(), lexicon))
    for match in words:
        word = match.group()
        if name_key(word) in lexicon.noise or HEXLIKE.match(word) or CODE_LIKE.search(word) or not _in_chinese_context(prose, match.start(), match.end()):
            continue
        version = VERSION.match(prose, match.end())
        head_has_digit = any(c.isdigit() for c in word)
        if version and version.group(2) and not (head_has_digit and not version.group(1)) and _is_version_for_word(prose, version, word, lexicon):
            add(prose[match.start():version.end()], PRODUCT, match.start(), version.end())
        elif head_has_digit and _product_with_digits(word, lexicon):
            add(word, PRODUCT, match.start(), match.end())
        elif LAB_NAME.fullmatch(word):
            if not _is_typo(word, lexicon):
                add(word, ORGANIZATION, match.start(), match.end())
        elif CAMEL.search(word) or ("-" in word and word[0].isupper() and not word.isupper() and not _all_common(word, lexicon)):
            add(word, PRODUCT, match.start(), match.end())
        elif word in rare_counts and _is_typo(word, lexicon):
            continue
        elif word in rare_counts and (rare_counts[word] >= 2 or word.lower() not in lexicon.known_english or PRODUCT_CUE_AFTER.match(prose, match.end())):
            kind = ORGANIZATION if ORG_CUE_AFTER.match(prose, match.end()) else PRODUCT
            add(word, kind, match.start(), match.end())
        elif word in rare_counts and ORG_CUE_AFTER.match(prose, match.end()):
            add(word, ORGANIZATION, match.start(), match.end())


def _is_typo(word: str, lexicon: Lexicon) -> bool:
    """`Pormpt`, `OpneAI`, `Minimun`: one edit away from a common word or a known name (long words only)."""
    word = word.lower()
    if len(word) < 6:
        return False
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
    edits |= {a + c + b for a, b in splits for c in letters}
    edits.discard(word)
    return any(e in lexicon.common_english or e in lexicon.noise or e in lexicon.names for e in edits)


def _all_common(word: str, lexicon: Lexicon) -> bool:
    return all(part.lower() in lexicon.common_english for part in re.split(r"[-.]", word) if part)


def _is_version_for_word(prose: str, version: re.Match, word: str, lexicon: Lexicon) -> bool:
    if word.lower() in lexicon.common_english or not word[0].isupper() and not any(c.isupper() for c in word[1:]):
        return False
    if word.isupper() and len(word) <= 1:
        return False
    number = version.group(2)
    if re.fullmatch(r"(?:19|20)\d\d", number) or len(number) > 8 or SIZE.fullmatch(number):
        return False
    end = version.end()
    if end < len(prose) and (is_latin_word_char(prose[end]) or prose[end] in "-"):
        return False
    return not MEASURE.match(prose, end)


def _product_with_digits(word: str, lexicon: Lexicon) -> bool:
    """`SD3`, `GLM-4`, `Hunyuan3D-1.0`, `o3-mini`, `v0`: letters with a version inside."""
    letters = re.sub(r"[^A-Za-z]", "", word)
    if len(letters) < 1 or len(word) < 2:
        return False
    if re.fullmatch(r"\d*[A-Za-z]?\d+[KkMmBbGgTtPpXx]?", word) or re.fullmatch(r"[A-Za-z]\d{1,2}", word) and word[0].isupper():
        return False  # 8K, 70B, A8, B612-like codes
    head = re.match(r"[A-Za-z]+", word)
    if head and head.group().lower() in lexicon.common_english and (head.group().istitle() or head.group().islower()):
        if re.fullmatch(r"[.\-_]?\d+", word[head.end():]):
            return False  # No.1, Top3, Step2, Day1
    return bool(re.search(r"[A-Za-z]{2,}", word)) or bool(re.fullmatch(r"[a-z]\d(?:-[a-z]+)?", word))


def _rare_capitalised(word: str, lexicon: Lexicon) -> bool:
    return (
        len(word) >= 3
        and word[0].isupper()
        and not word.isupper()
        and word.isalpha()
        and word.lower() not in lexicon.common_english
        and name_key(word) not in lexicon.noise
    )


def _in_chinese_context(prose: str, start: int, end: int) -> bool:
    """True when the word sits in Chinese prose, not inside an English sentence."""
    window = prose[max(0, start - 30):start] + prose[end:end + 30]
    han = sum(1 for c in window if "\u3400" <= c <= "\u9fff")
    latin_words = len(re.findall(r"[A-Za-z]{2,}", window))
    return han >= 4 and latin_words <= 6


def _people(prose: str, lexicon: Lexicon, add) -> None:
    for match in TRANSLIT.finditer(prose):
        left = match.group().split("·", 1)[0]
        if len(left) >= 2 or not (match.start() and "\u3400" <= prose[match.start() - 1] <= "\u9fff"):
            add(match.group(), PERSON, match.start(), match.end())
    for match in WESTERN.finditer(prose):
        if match.group(1) in lexicon.given_names and match.group(2) not in lexicon.given_names | {"I"}:
            add(match.group(), PERSON, match.start(), match.end())
    for match in PERSON_ROLE_BEFORE.finditer(prose):
        start = match.end()
        western = WESTERN.match(prose, start)
        if western:
            add(western.group(), PERSON, start, western.end())
            continue
        name = _chinese_name_at(prose, start, lexicon)
        if name:
            add(name, PERSON, start, start + len(name))
    for cue in PERSON_CUE.finditer(prose):
        end = cue.start()
        for length in (3, 2, 4):
            start = end - length
            name = prose[max(start, 0):end]
            if start < 0 or not HAN_ONLY.fullmatch(name) or not _is_surname_start(name, lexicon):
                continue
            if name[-1] in AUX_CHARS or name[:2] in lexicon.han_words:
                continue
            if start > 0 and "\u3400" <= prose[start - 1] <= "\u9fff" and prose[start - 1] not in NAME_BEFORE:
                continue
            if name not in lexicon.han_words and name[-1] + cue.group() not in lexicon.han_words and name[-1] not in FUNCTION_CHARS:
                add(name, PERSON, start, end)
                break


def _is_surname_start(name: str, lexicon: Lexicon) -> bool:
    compound = name[:2] in lexicon.surnames
    return (compound and len(name) in (3, 4)) or (name[0] in lexicon.surnames and len(name) in (2, 3))


def _chinese_name_at(prose: str, start: int, lexicon: Lexicon) -> str | None:
    for surname in lexicon.surnames:
        if prose.startswith(surname, start):
            for length in (2, 1):
                name = prose[start:start + len(surname) + length]
                rest = prose[start + len(name):start + len(name) + 1]
                if len(name) == len(surname) + length and re.fullmatch(f"[{HAN}]+", name) and (not rest or not "\u3400" <= rest <= "\u9fff" or rest in "说表认指透称的在和曾也就是"):
                    if name not in lexicon.han_words and name[:2] not in lexicon.han_words and name[-1] not in AUX_CHARS:
                        return name
    return None


def _organizations(prose: str, lexicon: Lexicon, add, cut: Cut) -> None:
    """`宇树科技`, `上海人工智能实验室`, `Stability AI公司`: a proper-name tail before an organization word."""
    for match in ORG_SUFFIX.finditer(prose):
        suffix = match.group(2)
        stem = _proper_tail(match.group(1), lexicon, cut, places=suffix in KEEP_SUFFIX - {"科技"})
        if len(stem) < 2 or stem in GENERIC_ORG_STEMS or (suffix not in KEEP_SUFFIX - {"科技"} and stem in lexicon.han_known):
            continue
        start = match.end(1) - len(stem)
        if suffix in KEEP_SUFFIX:
            add(stem + suffix, ORGANIZATION, start, match.end())
        else:
            add(stem, ORGANIZATION, start, match.end(1))


def _proper_tail(stem: str, lexicon: Lexicon, cut: Cut, *, places: bool = False) -> str:
    """The trailing words of `stem` that are not common words (`这家位于北京的智谱` -> `智谱`).

    With `places`, a place name may end it (`香港` in 香港大学): universities and labs are named so.
    """
    tokens = cut(stem)
    tail: list[str] = []
    for token in reversed(tokens):
        if places and not tail and token in lexicon.places and token not in GENERIC_ORG_STEMS:
            tail.insert(0, token)
            break
        if token in lexicon.han_words or not token.strip() or any(c in FUNCTION_CHARS for c in token) or len("".join(tail)) + len(token) > 8:
            break
        if len(token) < 2 or not (token.isascii() or HAN_ONLY.fullmatch(token)):
            break
        if token.isascii() and token.lower() in lexicon.common_english | {"ai"} and not tail:
            break
        tail.insert(0, token)
    name = "".join(tail)
    if name.isascii() and not re.search(r"[A-Z]", name):
        return ""
    return name


def _quoted(prose: str, lexicon: Lexicon, add) -> None:
    for match in QUOTED.finditer(prose):
        inner = match.group(1).strip()
        if match.group(0)[0] == "《":
            continue  # titles of books, films, songs and articles: not products
        if PRODUCT_CUE_AFTER.match(prose, match.end()) and inner not in lexicon.han_words and len(inner) <= 12:
            add(inner, PRODUCT, match.start(1), match.end(1))


def _short_forms(prose: str, mentions: list[Mention], taken: _Spans) -> list[Mention]:
    """`4o` after `GPT-4o`: the version part of a product named earlier in the same note."""
    tails: dict[str, Mention] = {}
    for mention in mentions:
        if mention.kind != PRODUCT:
            continue
        parts = re.split(r"[-\s]", mention.key or mention.surface, maxsplit=1)
        if len(parts) == 2 and re.search(r"\d", parts[1]) and re.search(r"[A-Za-z]", parts[1]) and len(parts[1]) >= 2:
            tails.setdefault(parts[1], mention)
    out = []
    for tail, source in sorted(tails.items()):
        for match in re.finditer(re.escape(tail), prose):
            start, end = match.start(), match.end()
            if start < source.start or not taken.free(start, end):
                continue
            if (start > 0 and (is_latin_word_char(prose[start - 1]) or prose[start - 1] in ".-")) or (end < len(prose) and is_latin_word_char(prose[end])):
                continue
            taken.add(start, end)
            out.append(Mention(surface=tail, kind=PRODUCT, start=start, end=end, sentence="", key=source.key or source.surface))
    return out


def _type_by_context(prose: str, mentions: list[Mention]) -> list[Mention]:
    """A name the dictionary lists as both maker and product is typed by how this sentence uses it."""
    by_span: dict[tuple[int, int], list[Mention]] = {}
    for mention in mentions:
        by_span.setdefault((mention.start, mention.end), []).append(mention)
    products = _ProductStarts(mentions)
    out = []
    for (start, end), group in sorted(by_span.items()):
        kinds = {m.kind for m in group}
        if len(group) > 1 and PRODUCT in kinds and ORGANIZATION in kinds:
            want = ORGANIZATION if ORG_CUE_AFTER.match(prose, end) or products.made_after(prose, end) else PRODUCT
            group = [m for m in group if m.kind == want] or group[:1]
        out.extend(group)
    return out


class _ProductStarts:
    """Where product mentions start, for `MiniMax 的海螺AI` checks in O(log n)."""

    def __init__(self, mentions: list[Mention]) -> None:
        self.starts = sorted({m.start for m in mentions if m.kind == PRODUCT})

    def made_after(self, prose: str, end: int) -> bool:
        """Whether a product mention follows `end` across a maker phrase."""
        i = bisect_right(self.starts, end)
        while i < len(self.starts) and self.starts[i] - end <= 8:
            if MAKER_BETWEEN.match(prose[end:self.starts[i]]):
                return True
            i += 1
        return False


def _makers(prose: str, mentions: list[Mention]) -> list[Relation]:
    """`OpenAI 的 Sora`, `字节发布了即梦`: an organization right before a product makes it."""
    relations = []
    ordered = sorted(mentions, key=lambda m: m.start)
    for left, right in zip(ordered, ordered[1:]):
        if left.kind == ORGANIZATION and right.kind == PRODUCT and 0 <= right.start - left.end <= 8:
            if MAKER_BETWEEN.match(prose[left.end:right.start]):
                relations.append(Relation(subject=right.key or right.surface, predicate="made_by", object=left.key or left.surface))
    return relations
