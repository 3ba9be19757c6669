"""The chat template used for training: the model's own rendering, with assistant turns marked.

Loss on assistant tokens only needs `{% generation %}` markers, which few models ship. A marked
template is accepted for a model only if it renders probe conversations byte for byte as the
model's own template does: the student then trains on exactly the text it will see at inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import UserError

# Our data always carries a system turn, so the probes do too (templates differ in the default
# system prompt they insert when there is none, which never reaches our rows).
PROBES = [
    [
        {"role": "system", "content": "Think first, then answer."},
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "<|begin_of_thought|>\n2 + 3 = 5\n<|end_of_thought|>\n\n5"},
    ],
    [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ],
]
SHIPPED = {"chatml": "chatml_training.jinja"}


@dataclass
class TrainingTemplate:
    text: str
    origin: str  # said in the plan: where the template came from


def _shipped(name: str) -> str:
    return resources.files("rfactory.prompts").joinpath(SHIPPED[name]).read_text(encoding="utf-8")


def _renders_like_model(tokenizer: Any, template: str) -> bool:
    try:
        return all(
            tokenizer.apply_chat_template(p, tokenize=False, chat_template=template)
            == tokenizer.apply_chat_template(p, tokenize=False)
            for p in PROBES
        )
    except Exception:  # noqa: BLE001 - a template that cannot render the probes does not match
        return False


def training_template(tokenizer: Any, choice: str) -> TrainingTemplate:
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if choice in SHIPPED:
        return TrainingTemplate(_shipped(choice), choice)
    if choice != "auto":
        path = Path(choice).expanduser()
        if not path.is_file():
            raise UserError(f"model.chat_template: {choice!r} is neither auto, {', '.join(SHIPPED)} nor a .jinja file")
        text = path.read_text(encoding="utf-8")
        if not has_generation_markers(text):
            raise UserError(f"{path}: no {{% generation %}} markers, so assistant tokens cannot be told apart")
        return TrainingTemplate(text, str(path))
    own = tokenizer.chat_template
    if isinstance(own, dict):
        own = own.get("default")
    if not own:
        raise UserError("the model has no chat template (a base model?): set model.chat_template to chatml or a .jinja file")
    if has_generation_markers(own):
        return TrainingTemplate(own, "the model's own")
    try:
        trl_template = get_training_chat_template(tokenizer)
    except ValueError:
        trl_template = None
    if trl_template:
        return TrainingTemplate(trl_template, "TRL's marked copy of the model's")
    for name in SHIPPED:
        if _renders_like_model(tokenizer, _shipped(name)):
            return TrainingTemplate(_shipped(name), f"{name} (renders as the model's own)")
    raise UserError(
        "the model's chat template has no {% generation %} markers and no marked equivalent is known: "
        "give model.chat_template a .jinja copy of it with the assistant turns marked"
    )
