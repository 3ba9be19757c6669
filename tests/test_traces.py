from rfactory.traces import split_trace


def test_reasoning_content_becomes_the_thought():
    t = split_trace("The answer is \\boxed{4}.", "2+2 is 4.")
    assert (t.thought, t.solution, t.method, t.problem) == ("2+2 is 4.", "The answer is \\boxed{4}.", "reasoning_content", None)
    turn = t.assistant_turn()
    assert turn == ("<|begin_of_thought|>\n\n2+2 is 4.\n\n<|end_of_thought|>\n\n"
                    "<|begin_of_solution|>\n\nThe answer is \\boxed{4}.\n\n<|end_of_solution|>")


def test_think_tags_split_and_r1_style_missing_open_tag():
    t = split_trace("<think>\nhmm\n</think>\n\nSo \\boxed{1}")
    assert (t.thought, t.solution, t.method, t.problem) == ("hmm", "So \\boxed{1}", "think_tags", None)
    t = split_trace("hmm, the template opened it\n</think>\nSo \\boxed{1}")
    assert (t.thought, t.solution) == ("hmm, the template opened it", "So \\boxed{1}")


def test_unclosed_think_is_kept_with_a_reason():
    t = split_trace("<think>still thinking when max_tokens hit")
    assert t.thought == "still thinking when max_tokens hit" and t.solution == "" and "never closed" in t.problem


def test_the_models_own_markers():
    t = split_trace("<|begin_of_thought|>\n\nwork\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n\\boxed{2}\n\n<|end_of_solution|>")
    assert (t.thought, t.solution, t.method, t.problem) == ("work", "\\boxed{2}", "markers", None)
    t = split_trace("<|begin_of_thought|>\nwork\n<|end_of_thought|>\n<|begin_of_solution|>\n\\boxed{2")
    assert t.solution == "\\boxed{2" and t.problem == "solution section never closed"


def test_plain_answer_is_kept_whole_with_a_reason():
    t = split_trace("Just 42.")
    assert (t.thought, t.solution, t.method) == ("", "Just 42.", "none") and t.problem.startswith("no reasoning found")
