"""Each reading the math verifier learned for issue 17, one step at a time: what it reads, and
the near miss it must not. The labelled corpora test them together; these say which step does what."""

import pytest
import sympy

from rfactory.verifiers.math import cues, domain, matrices, verify
from rfactory.verifiers.math.answer import parse_answer
from rfactory.verifiers.math.extract import answer_text
from rfactory.verifiers.math.latex import parse_formula
from rfactory.verifiers.math.surface import clean, decimal_comma


# -- cues.py: which text is the answer ---------------------------------------------------------
@pytest.mark.parametrize("text, answer", [
    ("Work.\n\nFinal Answer: The final answer is $12$. I hope it is correct.", "12"),
    ("计算得到结果。\n\n答案是 12。", "12"),
    ("故答案为 7", "7"),
    ("Donc la réponse est 12.", "12"),
    ("Réponse : 12", "12"),
    ("Por lo tanto, la respuesta es 12.", "12"),
    ("Die Antwort ist 12.", "12"),
    ("Ответ: 12", "12"),
    ("الإجابة هي 12", "12"),
    ("अतः उत्तर 12 है।", "12"),
    ("答えは12です。", "12"),
    ("The answer is 12 apples, which matches the check above.", "12 apples"),
])
def test_an_answer_cue_in_nine_languages(text, answer):
    assert answer_text(text)[0] == answer


@pytest.mark.parametrize("text, answer", [
    ("Checking both roots.\n\nTherefore, $x = 4$ is the solution.", "x = 4"),
    ("Checking both roots.\n\nTherefore, 4 is the solution.", "4"),
    ("We add.\n\nSo the total is **12**.", "12"),
    ("计算。\n\n所以 $x = 3$。", "x = 3"),
    ("因此，所求的值为 $\\frac{1}{2}$。", "\\frac{1}{2}"),
    ("Le prix final est donc de 40 €.", "40 €"),
    ("Por lo tanto, Juan tiene 14 canicas.", "14"),
    ("Also beträgt die Geschwindigkeit 60 km/h.", "60 km/h"),
    ("Следовательно, скорость течения равна 2 км/ч.", "2"),
    ("إذن، عمر أحمد الآن 15 سنة.", "15"),
    ("したがって、$x$ の値は 6 です。", "6"),
    ("Hence the required minimum is $-\\frac{9}{4}$, attained at $x = \\frac{3}{2}$.", "-\\frac{9}{4}"),
    ("由于 $5! = 120$。\n\n所以 $n$ 的最小值是 $5$。", "5"),
    ("因式分解。\n所以 $x=1$ 或 $x=4$。", "x=1, x=4"),
    ("Each face has area $9$.\nThe total surface area is **54** square units.", "54"),
])
def test_what_the_last_sentence_concludes(text, answer):
    assert answer_text(text) == (answer, "concluding sentence")


@pytest.mark.parametrize("text", [
    "We get 4 in the end. Let me double check: 5 + 7 = 12.",  # no cue: never the last number
    "So we need 12 and 13 more.",  # one of several values
    "Therefore the answer is not 12.",
    "We also get 12.",  # English "also" is no conclusion
    "The area is 12, and the perimeter is 14. We checked both twice over and found nothing amiss in either "
    "computation, so the figures above stand as they are.",  # too long to be a concluding statement
])
def test_no_cue_no_answer(text):
    assert answer_text("We count the apples in each basket first, then the pears.\n\n" + text)[0] is None


def test_trailers_and_sentences():
    assert cues.strip_trailer("12 है।") == "12"
    assert cues.strip_trailer("12です。") == "12"
    assert cues.last_sentence("First 3.14 is pi. Then x = 2.\n\nSo x = 2.") == "So x = 2"
    assert cues.value_at_end("Juan tiene 14 canicas") == ("14", "canicas")
    assert cues.value_at_end("we get 12 and 13") is None
    assert cues.value_at_end("the area is 4π") is None or cues.value_at_end("the area is 4π")[1] == ""


# -- answer.py: equations stating a value, named values, ratios, groups --------------------------
@pytest.mark.parametrize("answer, gold, same", [
    ("\\sqrt{4} = 2", "2", True), ("\\binom{5}{2} = 10", "10", True), ("\\log_2 8 = 3", "3", True),
    ("\\sqrt{4} = 3", "3", False),  # the sides disagree: not a computation and its result
    ("x = 5", "5", True), ("f(-1) = 4", "4", True), ("E[X] = 3.5", "\\frac{7}{2}", True),
    ("1", "|AB| = 1", True), ("\\overline{AB} = 2", "|AB| = 2", True),
    ("7:32", "S_{MBCN}:S = 7:32", True), ("7:33", "S_{MBCN}:S = 7:32", False),
    ("m + n = 17", "17", True), ("m + n = 18", "17", False), ("a:b = 3:4", "3:4", True), ("[ABC] = 84", "84", True),
    ("\\prod_{k=1}^{n} (1 + \\frac{1}{k}) = n + 1", "n + 1", True),
    ("y = 2x + 3", "3", False),  # a line is not the value 3
    ("2y = 4x + 6", "y = 2x + 3", True),
    ("(5, 2), (7, 2)", "p=5, q=2; p=7, q=2", True), ("(5, 2), (7, 3)", "p=5, q=2; p=7, q=2", False),
])
def test_equations_and_named_values(answer, gold, same):
    assert verify(f"\\boxed{{{answer}}}", gold).passed == same


# -- relations: inequalities as the sets they describe -------------------------------------------
@pytest.mark.parametrize("answer, gold, same", [
    ("-x > -1", "x < 1", True), ("3 < x", "x > 3", True), ("-2x \\ge 4", "x \\le -2", True),
    ("-2x \\ge 4", "x < -2", False), ("-1 \\le 2x + 1 < 5", "[-1, 2)", True), ("x \\in [-2, 7]", "-2 \\le x \\le 7", True),
    ("x \\in [-2, 7)", "-2 \\le x \\le 7", False), ("x \\neq 3", "(-\\infty,3)\\cup(3,\\infty)", True),
    ("x^2 \\le 9", "[-3, 3]", True), ("x^2 < 9", "[-3, 3]", False), ("|x| > 2", "(-\\infty,-2)\\cup(2,\\infty)", True),
    ("|x| \\ge 2", "(-\\infty,-2)\\cup(2,\\infty)", False), ("x^2 < 2", "(-\\sqrt{2}, \\sqrt{2})", True),
    ("\\frac{1}{x} > 1", "(0, 1)", True), ("x^3 > x", "(-1,0)\\cup(1,\\infty)", True), ("x^2 + 1 < 0", "\\emptyset", True),
])
def test_relations_as_sets(answer, gold, same):
    assert verify(f"\\boxed{{{answer}}}", gold).passed == same


# -- surface.py: number formats ------------------------------------------------------------------
@pytest.mark.parametrize("raw, text", [
    ("10,\\!000", "10,000"), ("11,\\! 111", "11,111"), ("2{,}5", "2.5"), ("1{,}000", "1000"),
    ("12 \\\\", "12"), ("x \\approx 3.14", "x = 3.14"), ("\\pi \\approx 3.14", "\\pi"),
])
def test_number_formats_settled(raw, text):
    assert clean(raw).text == text


@pytest.mark.parametrize("text, quantity, reading", [
    ("1000,99", False, "1000.99"), ("2,74", True, "2.74"), ("2,74", False, None), ("1,5", False, None), ("0,75", False, "0.75"),
    ("1,000", True, None), ("12,345", False, None), ("1234,567", False, "1234.567"),
])
def test_a_decimal_comma_only_where_it_cannot_be_a_list_or_thousands(text, quantity, reading):
    assert decimal_comma(text, quantity) == reading


def test_a_lone_dollar_is_a_currency():
    assert parse_answer("2,74 $")[0] == "2,74 [dollar]"
    assert verify("Réponse : 2,74 $", "2.74").passed and not verify("\\boxed{2,74}", "2.74").passed


# -- matrices.py: environments and expressions -----------------------------------------------------
M = "\\begin{pmatrix} 2 & 1 \\\\ 1 & 1 \\end{pmatrix}"


@pytest.mark.parametrize("text, value", [
    (M, [[2, 1], [1, 1]]), (f"{M}^{{-1}}", [[1, -1], [-1, 2]]), (f"{M}^T", [[2, 1], [1, 1]]),
    (f"{M}{M}", [[5, 3], [3, 2]]), (f"{M} + {M}", [[4, 2], [2, 2]]), (f"2{M}", [[4, 2], [2, 2]]),
    (f"({M})^2", [[5, 3], [3, 2]]), ("\\begin{vmatrix} 2 & 5 \\\\ 1 & 3 \\end{vmatrix}", 1),
])
def test_matrix_expressions_are_evaluated(text, value):
    out = matrices.evaluate(text, lambda c: parse_formula(c))
    assert (out.tolist() if isinstance(out, sympy.MatrixBase) else out) == value


@pytest.mark.parametrize("answer, gold, same", [
    ("[[1, 2], [3, 4]]", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", True),
    ("[[1, 2], [4, 3]]", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", False),
    ("\\begin{Bmatrix} 1 & 2 \\\\ 3 & 4 \\end{Bmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", True),
    ("\\begin{smallmatrix} 1 & 2 \\\\ 3 & 4 \\end{smallmatrix}", "[[1, 2], [3, 4]]", True),
    ("A^{-1} = \\begin{pmatrix} 7 & -2 \\\\ -3 & 1 \\end{pmatrix}", "\\begin{pmatrix} 7 & -2 \\\\ -3 & 1 \\end{pmatrix}", True),
    ("\\begin{vmatrix} 2 & 5 \\\\ 1 & 3 \\end{vmatrix} = 6 - 5 = 1", "1", True),
    (f"{M}^{{-1}}", "\\begin{pmatrix} 1 & -1 \\\\ -1 & 2 \\end{pmatrix}", True),
    (f"{M}^T", "\\begin{pmatrix} 2 & 1 \\\\ 1 & 2 \\end{pmatrix}", False),
])
def test_matrices_written_every_way(answer, gold, same):
    assert verify(f"\\boxed{{{answer}}}", gold).passed == same


# -- several answers -------------------------------------------------------------------------------
@pytest.mark.parametrize("solution, gold, same", [
    ("$$\\boxed{a = -2},\\ \\boxed{b = -1},\\ \\boxed{c = 2}$$", "(-2, -1, 2)", True),
    ("Minimum: $\\boxed{-1}$; maximum: $\\boxed{3}$.", "-1, 3", True),
    ("we get $y = \\boxed{3}$ and $x = \\boxed{1}$.", "(3, 1)", False),  # the names say (x, y) = (1, 3)
    ("we get $x = \\boxed{3}$ and $y = \\boxed{1}$.", "(3, 1)", True),
    ("the roots are $\\boxed{2, 2}$", "2", True),  # a double root
    ("the roots are $\\boxed{2, 3}$", "2", False),
])
def test_several_answers(solution, gold, same):
    assert verify(solution, gold).passed == same


# -- latex.py and equal.py: sums, products, domains --------------------------------------------------
@pytest.mark.parametrize("answer, gold, same", [
    ("\\sum_{k=1}^{n} k", "\\frac{n(n+1)}{2}", True), ("\\sum_{k=1}^{n} k", "\\frac{n(n-1)}{2}", False),
    ("\\sum\\limits_{i=1}^{n} i^2", "\\frac{n(n+1)(2n+1)}{6}", True), ("\\sum_{k=0}^{n} 2^k", "2^{n+1} - 1", True),
    ("\\prod_{k=1}^{n} k", "n!", True), ("\\sum_{k=1}^{10} k^2", "385", True),
    ("\\sum_{k=0}^{n} \\binom{n}{k}", "2^n", True), ("\\sum_{k=0}^{n} \\binom{n}{k}", "2^{n+1}", False),
    ("\\sum_{k=1}^{n} \\frac{1}{k(k+1)}", "\\frac{n}{n+1}", True),
])
def test_sums_and_products(answer, gold, same):
    assert verify(f"\\boxed{{{answer}}}", gold).passed == same


@pytest.mark.parametrize("answer, gold, same", [
    ("\\frac{1}{\\sqrt{n}}", "\\sqrt{1/n}", True),  # equal wherever both are real
    ("\\sqrt{x}", "\\sqrt{-x}", False),  # no real point in common
    ("\\sqrt{x^2}", "x", False),  # both real everywhere, and they differ for x < 0
    ("|x|", "x", False),
    ("2\\ln x", "2\\ln|x|", False),  # real at x < 0 on one side only: other domains
    ("z x y", "xyz", True),
])
def test_sampled_on_the_real_domain_both_share(answer, gold, same):
    assert verify(f"\\boxed{{{answer}}}", gold).passed == same


def test_a_domain_the_solution_states():
    assert domain.stated_positive("Here $x > 0$ is the side length.") == {"x"}
    assert domain.stated_positive("($n$ a positive integer)") == {"n"}
    assert domain.stated_positive("For positive $a$ and $b$ the mean") == {"a", "b"}
    assert domain.stated_positive("a positive integer, and then $0 < x < 1$") == set()
    assert verify("Since $t > 0$ is the elapsed time, the distance is $\\boxed{|t|}$.", "t").passed
    assert not verify("The distance is $\\boxed{|t|}$.", "t").passed
    assert verify("For positive $a$ and $b$: $\\boxed{\\sqrt{a}\\sqrt{b}}$", "\\sqrt{ab}").passed
    assert not verify("$\\boxed{\\sqrt{a}\\sqrt{b}}$", "\\sqrt{ab}").passed
    assert domain.stated_integer("For every positive integer $n$") == {"n"}
    assert domain.stated_positive("$a, b \\in (0, 1)$") == {"a", "b"}
    assert domain.stated_positive("$n \\in \\mathbb{Z}$") == set()
    assert verify("For every positive integer $n$, $\\boxed{\\cos(n\\pi)}$", "(-1)^n").passed
    assert not verify("$\\boxed{\\cos(n\\pi)}$", "(-1)^n").passed
