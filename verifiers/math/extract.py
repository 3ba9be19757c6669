"""Where the final answer is: the last balanced `\\boxed{}` of the solution section (with the boxes
written right before it, for "\\boxed{2} and \\boxed{3}"), else the text after a final-answer cue
(in any language `cues` knows), else what the last sentence concludes, else a short solution that
is nothing but its answer. Never "the last number in the text".
"""

from __future__ import annotations

import re

from . import budget, cues
from .units import measure

SOLUTION_BEGIN, SOLUTION_END = "<|begin_of_solution|>", "<|end_of_solution|>"
THOUGHT_BEGIN, THOUGHT_END = "<|begin_of_thought|>", "<|end_of_thought|>"

_BOX = re.compile(r"\\(?:boxed|fbox)\s*(\{)|\\boxed\s+([^\s${}\\]+)")
# "and", "or" in the languages cues.py reads: $x=1$ 或 $x=4$, $1$ y $2$
_AND_OR = r"\b(?:and|or|et|ou|y|o|und|oder|и|или)\b|和|或者|或|以及|و|या|और|または|、"
_BETWEEN_BOXES = re.compile(
    r"(?:\s|[a-zA-Z](?:_\{?\w+\}?)?\s*=|\$|\\\]|\\\[|\\\(|\\\)|,|;|\\quad|\\qquad|\\[ ,;!]|~|"
    rf"\\text\{{\s*(?:and|or)\s*\}}|{_AND_OR}|[A-Za-z]{{2,15}}\s*:)*"  # "Minimum: \boxed{{-1}}; maximum: \boxed{{3}}"
)
# "y = \boxed{3} and x = \boxed{1}": the name written before a box, which the box's answer keeps
_LABEL_BEFORE = re.compile(r"(?<![\w\\])([a-zA-Z](?:_\{?\w+\}?)?)\s*=\s*\$?\s*$")
_CONNECTOR = re.compile(rf",|;|{_AND_OR}|\\quad|\\qquad")
# Bounded lengths keep a text full of unclosed \( linear to scan.
_SPAN = re.compile(
    r"\$\$([^$]{1,4000})\$\$|(?<!\\)\$((?:\\.|[^$\\]){1,4000})\$|\\\(([^\n]{1,2000}?)\\\)|\\\[((?:.|\n){1,4000}?)\\\]"
)
_SENTENCE_END = re.compile(r"\s*[.!;,]?\s*(?:I hope it is correct\.?)?\s*", re.I)
_NEGATED = re.compile(r"\bnot\b|n't\b", re.I)
_PART_LABEL = re.compile(r"(?:\(|\b)(?:[a-h]|i{1,3}|iv|vi{0,3}|\d{1,2})\)|\bpart\s*\(?(?:[a-h]|\d{1,2}|i{1,3}|iv)\b", re.I)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S)
# "The average speed is 60 miles per hour.": a one-sentence solution states its answer after the verb
_VERB = re.compile(r"\b(?:is|are|was|were|be|equals|costs?|takes|weighs|becomes|gives|has|have|remains?)\s+(?!not\b)", re.I)
_WORD = re.compile(r"(?<![\\\w])(?!(?:sqrt|frac|sin|cos|tan|log|exp|pi|infty)\b)[^\W\d_]{3,}")  # a word, not \frac or sqrt
_YES_NO = re.compile(r"^(yes|no)\b[,.!]", re.I)
_BARE = 60  # plain text this short with no box may be nothing but its answer
_SENTENCE = 120  # one sentence this short may end in its answer formula
_REFERENCE = 200  # a reference longer than this is a worked solution


def solution_section(text: str) -> str:
    """The part of a trace that states the answer: after the thought (Sky-T1 markers or <think>)."""
    start = text.rfind(SOLUTION_BEGIN)
    if start >= 0:
        return text[start + len(SOLUTION_BEGIN) :].split(SOLUTION_END, 1)[0]
    for begin, end in ((THOUGHT_BEGIN, THOUGHT_END), ("<think>", "</think>")):
        if end in text:
            return text.rsplit(end, 1)[1]
        if begin in text:
            return ""  # the trace never left its thought: it has only drafts
    return text


def _group_end(text: str, open_at: int) -> int:
    """Index just past the `}` closing the `{` at `open_at`; -1 if it never closes."""
    depth = 0
    for i in range(open_at, len(text)):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _box(text: str, m: re.Match[str]) -> tuple[str, int] | None:
    if m.group(2) is not None:
        return m.group(2), m.end()
    end = _group_end(text, m.start(1))
    return (text[m.start(1) + 1 : end - 1], end) if end > 0 else None


def _joins(between: str) -> bool:
    """`\\boxed{2}, \\boxed{3}` is one answer in two boxes; two boxes on separate lines are two tries."""
    return bool(_BETWEEN_BOXES.fullmatch(between) and _CONNECTOR.search(between)) and "\n\n" not in between


def boxed(text: str) -> list[str] | None:
    """Contents of the final box and the boxes joined to it; [] if none; None if the last is cut off."""
    starts = list(_BOX.finditer(text))[-budget.MAX_BOXES :]
    if not starts:
        return []
    last = _box(text, starts[-1])
    if last is None:
        return None
    found, lefts = [last[0]], [starts[-1].start()]
    for m in reversed(starts[:-1]):
        box = _box(text, m)
        if box is None or box[1] > lefts[0] or not _joins(text[box[1] : lefts[0]]):
            break
        found.insert(0, box[0])
        lefts.insert(0, m.start())
        if len(found) >= budget.MAX_ITEMS:
            break
    if len(found) > 1:  # several answers: each keeps the name it was given
        found = [f"{label.group(1)} = {box}" if "=" not in box and (label := _LABEL_BEFORE.search(text, max(0, at - 30), at))
                 else box for box, at in zip(found, lefts)]
    return found


def _after_phrase(text: str) -> str | None:
    last = None
    for last in cues.INTRODUCER.finditer(text):
        pass
    if last is None:
        return None
    line = text[last.end() :].lstrip(" \t*:_\n：").split("\n", 1)[0]
    if (clause := cues.CLAUSE.search(line)) is not None:  # "12 apples, which matches the check"
        line = line[: clause.start()]
    line = cues.strip_trailer(line)
    if (group := _formula_group(line)) is not None:
        return group
    line = re.split(r"\.\s|\.$|。", line, maxsplit=1)[0]
    if cues.FOREIGN_LETTER.search(line) and (value := _value(line)) is not None:
        return value  # "120 रुपये", "12 яблок": the value, not the words of another script
    verbs = list(_VERB.finditer(line))  # "**Final Answer** The area is 12 square units."
    if verbs and not _NEGATED.search(line):
        line = line[verbs[-1].end() :]
    return line.strip(" *.") or None


def _span_text(m: re.Match[str]) -> str:
    return next(g for g in m.groups() if g is not None).strip()


def _formula_group(sentence: str) -> str | None:
    """The answer a sentence states in formulas: its last formula with those joined to it
    ("$x = 1$ and $y = 2$"). None when it has no formula; the whole sentence when its formulas
    are not one group or words follow them ("$\\frac12$ if $n$ is even"), so that nothing is guessed."""
    spans = list(_SPAN.finditer(sentence))
    if not spans:
        return None
    found, left = [_span_text(spans[-1])], spans[-1].start()
    for m in reversed(spans[:-1]):
        if not _joins(sentence[m.end() : left]):
            break
        found.insert(0, _span_text(m))
        left = m.start()
    if len(found) < len(spans) or not _SENTENCE_END.fullmatch(sentence, spans[-1].end()):
        return sentence.strip()
    return ", ".join(found)


def _last_formula(sentence: str) -> str | None:
    """The sentence's last formula, when it is what the sentence ends with."""
    spans = list(_SPAN.finditer(sentence))
    if spans and _SENTENCE_END.fullmatch(sentence, spans[-1].end()):
        return _span_text(spans[-1])
    return None


def _short_answer(text: str) -> str | None:
    """A solution that is only its answer: `$\\frac12$`, `x = 2 or x = 3`, `So $x = 5$ or $x = -5$.`,
    `The area is 12 square units.`"""
    text = text.strip()
    if not text or "\n" in text.strip() and len(text) > _BARE:
        return None
    spans = list(_SPAN.finditer(text))
    if spans and spans[0].start() == 0 and spans[-1].end() == len(text.rstrip(".")) and len(text) <= budget.MAX_ANSWER_CHARS:
        return text  # nothing but formulas: "$x = 2$ or $x = 3$"
    if m := _YES_NO.match(text):
        return m.group(1)
    if len(text) > _SENTENCE or _NEGATED.search(text):
        return None  # "The answer is not $5$." states no answer
    if spans:
        return _formula_group(text)
    verbs = list(_VERB.finditer(text))
    if not verbs:
        return text if len(text) <= _BARE else None
    return text[verbs[-1].end() :].strip().rstrip(".!").strip() or None


def _value(text: str) -> str | None:
    """The value a sentence ends in, with its unit where `units` knows it ("60 km/h") and
    without the words for what was counted ("14 canicas", "15 سنة")."""
    if (found := cues.value_at_end(text)) is None:
        return None
    value, words = found
    return f"{value} {words}" if words and measure(words) else value


def _conclusion(text: str) -> str | None:
    """What the last sentence concludes: the formulas it calls the answer (`$x = 3$ is the
    solution`), its bold answer (`So the total is **12**.`), or, with a conclusion word
    (`Therefore, $x = 3$.`, `所以 $x=3$。`, `Le prix est donc de 40 €.`), its formulas or the
    value it ends in."""
    sentence = cues.last_sentence(text)
    if (clause := cues.CLAUSE.search(sentence)) is not None:
        sentence = sentence[: clause.start()]
    if not sentence or len(sentence) > _SENTENCE:
        return None
    if (called := cues.CALLED_ANSWER.search(sentence)) is not None:
        head = sentence[: called.start()]
        head = head[m.end() :] if (m := cues.CONCLUSION.match(head)) else head
        if (group := _formula_group(head)) is not None and group != head.strip():
            return group
        if (value := _value(head)) is not None and len(head.strip()) <= _BARE // 2:
            return value
    bold = list(cues.BOLD.finditer(sentence))
    if bold and cues.ONLY_WORDS.fullmatch(sentence[bold[-1].end() :]):  # "**54** square units."
        return bold[-1].group(1).strip()
    if (start := cues.CONCLUSION.match(sentence)) is not None:
        rest = sentence[start.end() :]
    elif (inside := cues.CONCLUSION_INSIDE.search(sentence)) is not None:
        rest = sentence[inside.end() :]
    else:
        return None
    if _NEGATED.search(sentence):
        return None
    if (group := _formula_group(rest)) is not None and group != rest.strip():
        return group
    if group is not None and (last := _last_formula(rest)) is not None:
        return last  # "所以 $n$ 的最小值是 $5$": words between formulas, the last one ending the sentence
    if (value := _value(rest)) is not None:
        return value
    verbs = list(_VERB.finditer(rest))
    tail = rest[verbs[-1].end() :].strip() if verbs else rest.strip()
    # what is left must be a formula written without delimiters ("x = 3"), not more words
    return tail if tail and len(tail) <= _BARE // 2 and group is None and not _WORD.search(tail) else None


def last_boxes(solution: str, n: int) -> list[str] | None:
    """The last `n` complete boxes of the solution section, for a multi-part reference
    ("(a) … \\boxed{4}  (b) … \\boxed{9}" against "4, 9"); None if there are fewer."""
    section = solution_section(solution)
    starts = list(_BOX.finditer(section))[-n:]
    boxes = [_box(section, m) for m in starts]
    if len(boxes) < n or any(b is None for b in boxes):
        return None
    # each box in its own labelled part, so an earlier draft is never taken for a part
    for before, after in zip(boxes, starts[1:]):
        if not _PART_LABEL.search(section, before[1], after.start()):  # type: ignore[index]
            return None
    return [b[0] for b in boxes]  # type: ignore[index]


def answer_text(solution: str) -> tuple[str | None, str]:
    """(the answer as written, where it came from) for a model's output; None when there is none."""
    section = solution_section(solution)
    tags = _ANSWER_TAG.findall(section)
    if tags and tags[-1].strip():
        return tags[-1].strip(), "<answer> tag"
    boxes = boxed(section)
    if boxes is None:
        return None, "the final \\boxed{} is cut off"
    if boxes:
        if not "".join(boxes).strip():
            return None, "the final \\boxed{} is empty"
        return ", ".join(boxes), "boxed"
    if (phrase := _after_phrase(section)) is not None:
        return phrase, "final-answer line"
    if (concluded := _conclusion(section)) is not None:
        return concluded, "concluding sentence"
    if (short := _short_answer(section)) is not None:
        return short, "whole solution"
    if not section.strip():
        return None, "no solution section (the trace stops inside its thought)"
    return None, "no \\boxed{} or final-answer line in the solution"


def reference_text(gold: str) -> str | None:
    """The answer in a reference: bare, delimited, boxed, or at the end of a worked solution."""
    boxes = boxed(gold)
    if boxes is None:
        return None
    if boxes:
        return ", ".join(boxes)
    if len(gold) > _REFERENCE or "\n" in gold.strip() or "####" in gold:
        phrase = _after_phrase(gold)
        if phrase is not None:
            return phrase
    return gold.strip() or None
