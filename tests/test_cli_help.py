import pytest

from conftest import run_cli


@pytest.mark.parametrize("command", ["generate", "verify", "push", "train-sft", "dedup", "decontaminate", "recipes", "status", "show",
                                     "eval", "rl-data", "train-rl", "label-steps", "train-prm"])
def test_help_shows_a_real_example(command: str):
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout
    assert f"rfactory {command}" in result.stdout.split("Example", 1)[1]


def test_recipes_lists_math():
    result = run_cli("recipes")
    assert result.returncode == 0 and "math" in result.stdout and "builtin:arithmetic" in result.stdout
    assert "sft/sky-t1-32b" in result.stdout and "Qwen/Qwen2.5-32B-Instruct" in result.stdout
