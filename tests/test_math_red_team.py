"""Cases from a red-team pass over the math verifier: wrong answers it once passed, right ones it
once missed, and inputs that once took seconds. Each is now answered correctly, within a second."""

import pytest

from rfactory.verifiers.math import verify

CASES = [
    ('parts-retry', 'The answer is \\boxed{2}.\n\nWait, that is wrong. Only $x=3$ works, so the answer is \\boxed{3}.', '2, 3', False),
    ('parts-tuple', 'First guess \\boxed{3}.\n\nActually the final answer is \\boxed{5}.', '(3, 5)', False),
    ('final-line-hedge', 'Thus, the final answer is $2$ or $3$.', '2', False),
    ('final-line-cond', 'The final answer is $\\frac12$ if $n$ is even and $\\frac13$ otherwise.', '\\frac12', False),
    ('unit-h-var', 'The answer is $\\boxed{\\pi r^2}$.', '\\pi r^2 h', False),
    ('unit-s-var', 'The answer is $\\boxed{\\frac{\\sqrt{3}}{4}}$.', '\\frac{\\sqrt{3}}{4}s^2', False),
    ('unit-m-var', 'The answer is $\\boxed{10}$.', '10m', False),
    ('unit-h-frac', 'The answer is $\\boxed{\\frac{1}{2}}$.', '\\frac{1}{2}h', False),
    ('inv-trig', 'The answer is $\\boxed{\\sin^{-1} x}$.', '\\csc x', False),
    ('choice-assign', 'The answer is $\\boxed{A = 13}$.', 'A = 12', False),
    ('choice-hedge', 'The answer is $\\boxed{(C) 12 \\text{ or } (D) 15}$.', 'C', False),
    ('choice-hedge2', 'The answer is $\\boxed{C (or D)}$.', 'C', False),
    ('noun-more', 'The answer is $\\boxed{4 \\text{ or more}}$.', '4', False),
    ('noun-more-than-x', 'The answer is $\\boxed{4 \\text{ more than } x}$.', '4', False),
    ('noun-squared', 'The answer is $\\boxed{5 \\text{ squared}}$.', '5', False),
    ('noun-million', 'The answer is $\\boxed{5 \\text{ million}}$.', '5', False),
    ('noun-ampm', 'The answer is $\\boxed{3:00 \\text{ AM}}$.', '3:00 \\text{ PM}', False),
    ('word-hundred', 'The answer is $\\boxed{\\text{three hundred}}$.', '3', False),
    ('aside-or', 'The answer is $\\boxed{5 \\text{ (or 6)}}$.', '5', False),
    ('aside-which', 'The answer is $\\boxed{5, \\text{ which is wrong; the answer is } 6}$.', '5', False),
    ('aside-approx', 'The answer is $\\boxed{5 \\approx 6}$.', '5', False),
    ('text-sign', 'The answer is $\\boxed{\\text{min} = -3}$.', '\\text{min} = 3', False),
    ('text-sign2', 'The answer is $\\boxed{-\\frac{abc}{2}}$.', '\\frac{abc}{2}', False),
    ('text-cond', 'The answer is $\\boxed{\\frac{n+1}{2} \\text{ if } n \\text{ is odd}}$.', '\\frac{n-1}{2} \\text{ if } n \\text{ is odd}', False),
    ('named-tuple', 'The answer is $\\boxed{b = 2, a = 1}$.', '(b, a) = (1, 2)', False),
    ('named-tuple-xy', 'The answer is $\\boxed{y = 3, x = 2}$.', '(x, y) = (3, 2)', False),
    ('sci-int-mantissa', 'The answer is $\\boxed{15 \\times 10^3}$.', '15400', False),
    ('sci-12e2', 'The answer is $\\boxed{12e2}$.', '1249', False),
    ('deg-vs-pct', 'The answer is $\\boxed{50^\\circ}$.', '50\\%', False),
    ('mixed-space', 'The answer is $\\boxed{2 1/2}$.', '1', False),
    ('base-digits', 'The answer is $\\boxed{10201_5}$.', '10201_3', False),
    ('base-letter-sub', 'The answer is $\\boxed{C_6}$.', 'C_5', False),
    ('decimal-comma', 'The answer is $\\boxed{3{,}5}$.', '35', False),
    ('interval-vs-list', 'The answer is $\\boxed{1, 2}$.', '[1, 2]', False),
    ('not-short', 'The answer is not $5$.', '5', False),
    ('not-short2', 'We found $x=5$ is not valid.', '5', False),
    ('md-h4', '#### 1. Setup\nLet x be the count.\n\n#### 2. Solve\nWe get x = 7, so there are 7 apples.', '2', False),
    ('floor-ceil', 'The answer is $\\boxed{\\lfloor x \\rfloor + 1}$.', '\\lceil x \\rceil', False),
    ('compose', 'The answer is $\\boxed{f \\circ g}$.', 'g \\circ f', False),
    ('tons', 'The answer is $\\boxed{5 \\text{ tons}}$.', '5 \\text{ kg}', False),
    ('rad-vs-deg', 'The answer is $\\boxed{30 \\text{ radians}}$.', '30^\\circ', False),
    ('nine-symbols', 'The answer is $\\boxed{a+b+c+d+e_1+f+g+h+k}$.', 'a+b+c+d+e_1+f+g+h+a', False),
    ('huge-pi', 'The answer is $\\boxed{\\pi^{60000}+1}$.', '\\pi^{60000}', False),
    ('fn-inv-trig', 'The answer is $\\boxed{\\tan^{-1}(1)}$.', '\\frac{\\pi}{4}', True),
    ('fn-inv-trig2', 'The answer is $\\boxed{\\sin^{-1}\\left(\\frac{1}{3}\\right)}$.', '\\arcsin\\frac13', True),
    ('fn-AB', 'The answer is $\\boxed{AB = 5}$.', '5', True),
    ('fn-area', 'The answer is $\\boxed{\\text{Area} = 12}$.', '12', True),
    ('fn-f2', 'The answer is $\\boxed{f(2) = 5}$.', '5', True),
    ('fn-A=12', 'The answer is $\\boxed{A = 12}$.', '12', True),
    ('fn-angle', 'The answer is $\\boxed{\\angle ABC = 30^\\circ}$.', '30', True),
    ('fn-choose', 'The answer is $\\boxed{{10 \\choose 3}}$.', '120', True),
    ('fn-langle', 'The answer is $\\boxed{\\langle 1, 2 \\rangle}$.', '(1, 2)', True),
    ('fn-hspace', 'The answer is $\\boxed{5\\hspace{0.1cm}\\text{cm}}$.', '5', True),
    ('fn-degC', 'The answer is $\\boxed{6^\\circ C}$.', '6', True),
    ('fn-million', 'The answer is $\\boxed{5 \\text{ million}}$.', '5000000', True),
    ('fn-twentyfive', 'The answer is $\\boxed{\\text{twenty-five}}$.', '25', True),
    ('fn-bold-header', 'Long reasoning here.\n\n**Final Answer**\n\nThe area is 12 square units.', '12', True),
    ('fn-answer-is-therefore', 'Reasoning...\nThe answer is therefore $12$.', '12', True),
    ('fn-final-answer-sentence', 'Reasoning.\n\nFinal answer: The area is $12$.', '12', True),
    ('fn-multi-span', 'The answer is $x = 2$ and $x = 3$.', '2, 3', True),
    ('fn-log10', 'The answer is $\\boxed{\\log_{10} 100}$.', '2', True),
    ('fn-xy=x/2', 'The answer is $\\boxed{x = \\frac{y}{2}}$.', 'y = 2x', True),
]


@pytest.mark.parametrize("solution,gold,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_red_team_case(solution, gold, expected):
    v = verify(solution, gold, timeout_s=1.0)
    assert v.passed == expected, v


SLOW_ONCE = [
    ("spaces in a box", "\\boxed{1" + " " * 6000 + "x}", "5"),
    ("spaces in the gold", "\\boxed{5}", "1" + " " * 6000 + "x"),
    ("a line of spaces", "\n" + " " * 19000 + "x", "5"),
    ("unclosed \\( 9000 times", "\\(" * 9000, "5"),
    ("<answer> 2400 times", "<answer>" * 2400, "5"),
    ("x to a googol-ish power", "\\boxed{x^{10^{3999}}}", "5"),
    ("root of a 2000-digit number", "\\boxed{\\sqrt{" + "7" * 2000 + "}}", "5"),
    ("sum of fractions with huge denominators", "\\boxed{" + "+".join(f"\\frac{{1}}{{{p}^{{{190000 // (p + 1).bit_length()}}}}}" for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)) + "}", "5"),
    ("sine of e^(e^11)", "\\boxed{e^{e^{11}}+\\sin(e^{e^{11}})}", "e^{e^{11}}"),
    ("product of 1000 huge powers", "\\boxed{" + "*".join(["3^{9000}"] * 1000) + "}", "3"),
    ("a part that cannot be evaluated", "First \\boxed{7}. Then \\boxed{5}.", "5, \\lfloor 10^{3999}\\pi \\rfloor"),
    # issue 17's readings
    ("a sum to 10^9", "\\boxed{\\sum_{k=1}^{10^{9}} k}", "5"),
    ("a sum of degree 9000", "\\boxed{\\sum_{k=1}^{n} k^{9000}}", "5"),
    ("an unevaluated sum of towers", "\\boxed{\\sum_{k=1}^{n} (k!)^{k!}}", "5"),
    ("a quartic inequality", "\\boxed{x^4 - 10x^3 + 3x^2 - 7x + 1 \\le 0}", "[0, 10]"),
    ("a sum of absolute values", "\\boxed{|x^2 - 3| + |x - 1| < 5}", "(-1, 2)"),
    ("2000 concluding sentences", "Therefore $x = 1$. " * 2000, "2"),
    ("a 19,000-letter line after a cue", "The answer is " + "a" * 19000, "5"),
    ("a stated domain 500 times over", "Let $x > 0$ and positive $a$ and $b$. " * 500 + "\\boxed{\\sqrt{x^2}}", "-x"),
    ("30 4x4 matrices of 31-digit entries multiplied", "\\boxed{" + ("\\begin{pmatrix} " + " \\\\ ".join(
        " & ".join(str(10**30 + 7 * i + j) for j in range(4)) for i in range(4)) + " \\end{pmatrix}") * 30 + "}", "5"),
    ("a decimal comma between 9000-digit parts", "\\boxed{" + "1" * 9000 + "," + "2" * 9000 + "}", "5"),
    ("900 labelled boxes", "".join(f"x_{i} = \\boxed{{{i}}}, " for i in range(900)), "5"),
]


@pytest.mark.parametrize("solution,gold", [c[1:] for c in SLOW_ONCE], ids=[c[0] for c in SLOW_ONCE])
def test_once_slow_inputs_finish_within_a_second(solution, gold):
    v = verify(solution, gold, timeout_s=1.0)  # the cooperative deadline: a slow step would show as timeout
    assert v.status != "timeout" and not v.passed, v
