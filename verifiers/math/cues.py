"""Final-answer cues: the words by which a solution says which text is its answer, in the
languages teachers write in.

Three kinds, each of which says it, unlike "the last number in the text":
- a cue that introduces the answer anywhere ("The final answer is", "**Answer:**", "答案是",
  "Ответ:", "La respuesta es"); the last one in the solution wins;
- a conclusion word opening the solution's last sentence ("Therefore, $x = 3$.", "所以 $x=3$。",
  "Donc $x = 3$."), whose formulas are then the answer;
- a formula the last sentence calls the answer ("$x = 3$ is the solution") or sets in bold
  ("So the total is **12**.").
What follows the answer in the sentence (a full stop, "です", "है", "I hope it is correct.") is
not part of it.
"""

from __future__ import annotations

import re

# The answer follows these. English first (Minerva/Llama "Final Answer: The final answer is $X$",
# "The answer is X", "**Answer:** X", GSM8K "#### X"), then zh, fr, es, de, ru, ar, hi, ja.
_INTRODUCERS = [
    r"final\s+answer\s*(?:is|:|=)?\s*:?",
    r"\bthe\s+answer\s+is\s*:?(?!\s*not\b)",
    r"\bcorrect\s+(?:answer|option|choice)\s+is\s*:?",
    r"(?:^|\n)[ \t]*####(?![ \t]*\d+\.\s)[ \t]*(?=[^\n]{1,40}(?:\n|$))",
    r"(?:^|\n)[ \t]*(?:[*#_]+[ \t]*)?answer[ \t]*(?:[*_]+[ \t]*)?[:：][*_]*",
    r"(?:最终|最后的?)?答案(?:应)?(?:是|为|為|[:：])|(?:^|\n)[ \t]*(?:[*#]+[ \t]*)?(?:答|解答)[ \t]*[:：]",
    r"\b(?:la\s+)?r[ée]ponse(?:\s+finale)?\s*(?:est\b|[:：])",
    r"\b(?:la\s+)?respuesta(?:\s+final)?\s*(?:es\b|[:：])",
    r"\b(?:die\s+)?(?:endg[üu]ltige\s+)?antwort\s*(?:ist\b|lautet\b|[:：])",
    r"(?:^|[\s*])ответ\s*(?:[:：]|—|-|является\b|равен\b)",
    r"(?:الإجابة|الجواب)(?:\s+النهائية)?\s*(?:هي|هو|[:：])",
    r"(?:अंतिम\s+)?उत्तर\s*(?:है\s*)?(?:[:：]|=)?",
    r"(?:答え|解答)\s*(?:は|[:：])",
]
INTRODUCER = re.compile("|".join(f"(?:{p})" for p in _INTRODUCERS), re.I)

# Conclusion words, recognised where the solution's last sentence starts …
CONCLUSION = re.compile(
    r"^[ \t*]*(?:therefore|thus|hence|so|consequently|in\s+conclusion|"
    r"所以|因此|故|综上所述|综上|于是|"
    r"donc|ainsi|par\s+cons[ée]quent|por\s+lo\s+tanto|por\s+tanto|entonces|as[ií]\s+que|"
    r"also|daher|somit|folglich|следовательно|итак|значит|таким\s+образом|"
    r"إذن|اذن|لذلك|وبالتالي|अतः|इसलिए|अत\b|したがって|よって|ゆえに|故に)(?![a-zA-Zа-яА-Я])[\s,，、،:：]*",
    re.I,
)
# … or anywhere in it, for the words that sit after the verb ("Le prix est donc de 40 €",
# "The total is therefore 12", "Das Ergebnis ist also 12"); not "so" nor English "also".
CONCLUSION_INSIDE = re.compile(
    r"(?<![a-zA-Zа-яА-Я])(?:therefore|thus|hence|donc|por\s+lo\s+tanto|por\s+tanto|daher|somit|folglich|"
    r"ist\s+also|следовательно|значит)(?![a-zA-Zа-яА-Я])",
    re.I,
)

# A clause after the answer that explains it: "12 apples, which matches", "$-\\frac94$, attained at …"
CLAUSE = re.compile(
    r",\s*(?:which|as|since|because|where|when|so\s+that|and\s+(?:this|that|it)|this|that|attained|achieved|"
    r"obtained|reached)\b",
    re.I,
)

# A value ending a sentence, with only words after it (units, nouns, in any script): "14 canicas",
# "2 км/ч", "15 سنة", "40 平方厘米". The words go, unless they are a unit `units` knows.
_VALUE_AT_END = re.compile(
    r"(?<![\w.,/])([-+−]?(?:\d+(?:[.,]\d+)*(?:\s?/\s?\d+)?)(?:\s?(?:°|%|\\%|€|£))?)"
    r"((?:\s*(?![\u0370-\u03ff])[^\W\d_][^\s\d]*){0,4})\s*$"  # words, not a Greek constant (4π)
)
# a letter of a script other than Latin and Greek: words of the sentence, never of the formula
FOREIGN_LETTER = re.compile(r"(?![a-zA-Z\u00c0-\u024f\u0370-\u03ff])[^\W\d_]")


# "12 and 13": the value at the end is one of several
_JOINED_TO_ANOTHER = re.compile(
    r"\d\s*(?:,|;|&|\b(?:and|or|et|ou|y|o|und|oder|и|или)\b|和|或|、|و)\s*$", re.I
)


def value_at_end(sentence: str) -> tuple[str, str] | None:
    """(the value, the words after it) when the sentence ends in one number and words only."""
    m = _VALUE_AT_END.search(sentence, max(0, len(sentence) - 120))
    if not m or _JOINED_TO_ANOTHER.search(sentence[max(0, m.start() - 20) : m.start()]):
        return None
    return m.group(1).replace("−", "-"), m.group(2).strip()


# "$x = 3$ is the solution", "… is the answer": the formula before it is the answer.
CALLED_ANSWER = re.compile(
    r"\s*(?:is|are|would\s+be)\s+(?:the\s+)?(?:final\s+|only\s+|required\s+|desired\s+)?"
    r"(?:answer|solution|value|result)s?\b[^$\n]{0,40}$",
    re.I,
)

# Bold text: an answer set in bold on the last sentence, perhaps with what it counts after it.
BOLD = re.compile(r"\*\*([^*\n]{1,200})\*\*")
ONLY_WORDS = re.compile(r"(?:\s*(?![\u0370-\u03ff])[^\W\d_][^\s\d]*){0,3}[\s.:]*")

# Words and marks after the answer that are not part of it: sentence ends, copulas, politeness.
_TRAILER = re.compile(
    r"(?:\s*(?:[.。।!！;；]|I\s+hope\s+it\s+is\s+correct|です|である|となる|となります|になります|だ|है|हैं|"
    r"होगा|होगी|est\s+la\s+r[ée]ponse|es\s+la\s+respuesta|ist\s+die\s+antwort))+\s*$",
    re.I,
)

# A sentence ends at one of these followed by space or the end ("3.14" does not end one).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？।])|\n")


def strip_trailer(text: str) -> str:
    """`12。`, `12 है।`, `12です` → `12`."""
    m = _TRAILER.search(text, max(0, len(text) - 80))  # the tail only: linear on a long line
    return (text[: m.start()] if m else text).strip()


def last_sentence(text: str) -> str:
    """The solution's last sentence, without its full stop: where a conclusion is stated."""
    body = strip_trailer(text.rstrip())
    cut = 0
    for m in _SENTENCE_BREAK.finditer(body):
        if body[m.end() :].strip():
            cut = m.end()
    return body[cut:].strip()
