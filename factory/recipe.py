"""Recipes: the pydantic model of a generation job, loaded from YAML with defaults → YAML → flags."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .cost import PriceConfig
from .errors import UserError


def _simple_name(v: str) -> str:
    if not v or "/" in v:
        raise ValueError("must be a non-empty name without '/'")
    return v


SimpleName = Annotated[str, AfterValidator(_simple_name)]  # a recipe's name becomes a folder name


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Columns(Strict):
    id: str | None = Field(None, description="column holding a stable problem id; None hashes the problem text")
    problem: str = "problem"
    answer: str | None = Field(
        "answer",
        description="column holding the reference answer (for code: the tests); several columns joined by "
        "commas travel as one JSON object, e.g. public_tests,private_tests,generated_tests",
    )
    starter_code: str | None = Field(None, description="column holding starter code (call-based code problems)")


class ProblemsConfig(Strict):
    source: str = "builtin:arithmetic"
    split: str = "train"
    limit: int | None = Field(None, ge=1)
    columns: Columns = Columns()


class TeacherConfig(Strict):
    spec: str = Field("llamacpp:smollm2", description="backend:model, e.g. openai:deepseek-reasoner")
    concurrency: int | None = Field(
        None, ge=1, le=65536, description="requests in flight; None uses the backend's default (16 for an API, 512 for vLLM)"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="validated by the backend's Options model")
    price: PriceConfig | None = Field(None, description="USD per million tokens, over the packaged table's price")
    fail_fast_after: int = Field(
        8, ge=0, description="stop when this many of the first requests all fail to reach the endpoint (0: never)"
    )


class BudgetConfig(Strict):
    """Caps over the whole run folder (earlier invocations included); None: no cap."""

    max_cost_usd: float | None = Field(None, gt=0, description="stop admitting requests before spend would pass it")
    max_tokens_total: int | None = Field(None, ge=1, description="prompt + completion tokens, the same way")


class PromptConfig(Strict):
    teacher_system: str | None = "@math_teacher_system.txt"
    user_template: str = "@math_user.txt"
    dataset_system: str = "@reasoning_system.txt"


class SamplingConfig(Strict):
    samples: int = Field(2, ge=1, le=1024)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(1024, ge=1)
    seed: int = 0
    stop: list[str] = Field(default_factory=list, description="stop sequences")


class CodeVerifierOptions(Strict):
    memory_mb: int = Field(512, ge=16, description="address-space limit per test")
    stop_on_first_failure: bool = Field(True, description="skip a sample's remaining tests once one fails")
    allow_unsandboxed: bool = Field(
        False, description="run programs without kernel isolation where none works here (unsafe; off by default)"
    )


class VerifierConfig(Strict):
    name: Literal["math", "code", "choice"] = "math"
    timeout_s: float = Field(5.0, gt=0)
    workers: int | None = Field(None, ge=1, description="verifier processes; None uses every core")
    code: CodeVerifierOptions = CodeVerifierOptions()


class OutputConfig(Strict):
    shard_max_rows: int = Field(100_000, ge=1)
    require_thought: bool | None = Field(
        None,
        description="keep only verified samples whose thought section is not empty (a student trained on traces "
        "without reasoning learns to skip it); None: required for every teacher but the embedded demo model, "
        "which does not reason",
    )


class Recipe(Strict):
    name: SimpleName
    domain: Literal["math", "code", "science", "puzzle"] = "math"
    problems: ProblemsConfig = ProblemsConfig()
    teacher: TeacherConfig = TeacherConfig()
    prompt: PromptConfig = PromptConfig()
    sampling: SamplingConfig = SamplingConfig()
    verifier: VerifierConfig = VerifierConfig()
    output: OutputConfig = OutputConfig()
    budget: BudgetConfig = BudgetConfig()

    def generation_fingerprint(self) -> dict[str, Any]:
        """Every setting that changes what the teacher is asked or how it samples.

        Sample count and limit are left out on purpose: raising them extends a run consistently,
        because each (problem, sample) pair has its own deterministic seed. Teacher options are
        left to the backend, which alone knows which of them change answers (a base URL does, a
        timeout does not).
        """
        return {
            "problems": self.problems.model_dump(exclude={"limit"}),
            "teacher": self.teacher.spec,
            "prompt": self.prompt.model_dump(),
            "sampling": self.sampling.model_dump(exclude={"samples"}),
        }


def builtin_recipe_names(folder: str = "") -> list[str]:
    """Packaged recipes: generation recipes at the top, others (`sft/…`) in their folder."""
    root = resources.files("rfactory.recipes")
    if folder:
        root = root.joinpath(folder)
    prefix = f"{folder}/" if folder else ""
    return sorted(prefix + p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def read_recipe_yaml(name_or_path: str, folder: str = "") -> tuple[dict[str, Any], str, Path | None]:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UserError(f"{path}: recipe file not found")
        text, where, base = path.read_text(encoding="utf-8"), str(path), path.parent
    else:
        packaged = resources.files("rfactory.recipes").joinpath(f"{name_or_path}.yaml")
        if not packaged.is_file():
            raise UserError(
                f"unknown recipe {name_or_path!r}: give a YAML path or one of {', '.join(builtin_recipe_names(folder))}"
            )
        text, where, base = packaged.read_text(encoding="utf-8"), f"recipe {name_or_path}", None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{where}:{at} malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise UserError(f"{where}: a recipe must be a YAML mapping, got {type(data).__name__}")
    return data, where, base


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def describe_error(err: ValidationError, where: str) -> str:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown key {field!r}"
    if not field:  # a check across fields names them itself
        return f"{where}: {first['msg'].removeprefix('Value error, ')}"
    return f"{where}: field {field!r}: {first['msg']}"


M = TypeVar("M", bound=BaseModel)


def validate_with_overrides(model: type[M], data: dict[str, Any], overrides: dict[str, Any], where: str) -> M:
    """Flags over YAML (a None flag was not given), then the model's checks as one line."""
    for dotted, value in overrides.items():
        if value is not None:
            set_dotted(data, dotted, value)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise UserError(describe_error(e, where)) from None


def _resolve_text(value: str, base: Path | None, where: str, field: str) -> str:
    """`@name` reads a prompt file: beside the recipe first, then rfactory's own prompts."""
    if not value.startswith("@"):
        return value
    name = value[1:]
    if base is not None and (base / name).is_file():
        return (base / name).read_text(encoding="utf-8").rstrip("\n")
    packaged = resources.files("rfactory.prompts").joinpath(name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8").rstrip("\n")
    raise UserError(f"{where}: field {field!r}: prompt file {name!r} not found")


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> Recipe:
    """Load a recipe by built-in name or path, apply dotted-key overrides, resolve prompt files."""
    data, where, base = read_recipe_yaml(name_or_path)
    overrides = overrides or {}
    teacher = data.get("teacher") if isinstance(data.get("teacher"), dict) else {}
    new_spec = overrides.get("teacher.spec")
    if new_spec and str(teacher.get("spec", "")).partition(":")[0] != new_spec.partition(":")[0]:
        # Options and concurrency belong to one backend: another backend from the command line
        # starts from its own defaults.
        teacher.pop("options", None)
        teacher.pop("concurrency", None)
    problems = data.get("problems") if isinstance(data.get("problems"), dict) else {}
    new_source = overrides.get("problems.source")
    if new_source and new_source != problems.get("source"):
        # A limit is written for its source (the demo's 16 built-in problems), not for the user's file.
        problems.pop("limit", None)
    recipe = validate_with_overrides(Recipe, data, overrides, where)
    for field in ("teacher_system", "user_template", "dataset_system"):
        value = getattr(recipe.prompt, field)
        if value is not None:
            setattr(recipe.prompt, field, _resolve_text(value, base, where, f"prompt.{field}"))
    if "{problem}" not in recipe.prompt.user_template:
        raise UserError(f"{where}: field 'prompt.user_template': must contain {{problem}}")
    return recipe

