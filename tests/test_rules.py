"""The rule catalogue (`rig.validator.rules`): it covers every rule the validator can report,
read from the validator's own source so the test cannot fall behind it; an unknown id raises;
`rig validate --rules` prints it; and the repo defines every rule id it cites, pointing nowhere
outside itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from rig.cli import main
from rig.validator import Checker, Finding, Violation, rules

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = ROOT / "rig" / "validator"  # the catalogue itself (rules.py) reports nothing
SOURCES = [p for p in sorted(VALIDATOR.glob("*.py")) if p.name != "rules.py"]
SOURCES += [ROOT / "rig" / "validate.py"]
OTHER_REPORTERS = [
    path
    for package in ("viewers", "inspect")
    for path in sorted((ROOT / "rig" / package).glob("*.py"))
]
LETTERED_ID = re.compile(r"[A-Z]{1,2}[0-9]{1,2}")  # R9, T1, D5, M1 (word ids: see rule positions)
REPORTING_CALLS = ("Finding", "Violation", "report")  # their first argument is a rule id


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


class _RuleLiterals:
    """Every string constant that can reach the rule position of a violation in `trees`:

    the first argument (or `rule=`) of `Finding`, `Violation` and `.report`, and the `rule`
    argument of every function of the sources that takes one; an expression there resolves
    through conditionals, assignments to the same name and the returns of a called function."""

    def __init__(self, trees: list[ast.Module]):
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.assignments: dict[str, list[ast.expr]] = {}
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    self.functions[node.name] = node
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            self.assignments.setdefault(target.id, []).append(node.value)
        self.found: set[str] = set()
        self.unresolved: list[str] = []
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    for expr in self._rule_arguments(node):
                        self._resolve(expr, set())

    def _rule_arguments(self, call: ast.Call) -> list[ast.expr]:
        name = _call_name(call)
        keyword = [k.value for k in call.keywords if k.arg == "rule"]
        if name in REPORTING_CALLS:
            return keyword or call.args[:1]
        function = self.functions.get(name or "")
        if function is None:
            return []
        params = [a.arg for a in function.args.args]
        if "rule" not in params:
            return []
        index = params.index("rule") - (1 if params[0] == "self" else 0)
        return keyword or (call.args[index : index + 1] if index < len(call.args) else [])

    def _resolve(self, expr: ast.expr, seen: set[str]) -> None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self.found.add(expr.value)
        elif isinstance(expr, ast.IfExp):
            self._resolve(expr.body, seen)
            self._resolve(expr.orelse, seen)
        elif isinstance(expr, ast.Attribute) and expr.attr == "rule":
            pass  # an id already checked where its finding was built
        elif isinstance(expr, ast.Name) and expr.id not in seen:
            if expr.id == "rule" or expr.id in self.assignments:
                for value in self.assignments.get(expr.id, []):
                    self._resolve(value, seen | {expr.id})
            else:
                self.unresolved.append(ast.unparse(expr))
        elif isinstance(expr, ast.Call) and _call_name(expr) in self.functions:
            function = self.functions[_call_name(expr) or ""]
            for node in ast.walk(function):
                if isinstance(node, ast.Return) and node.value is not None:
                    self._resolve(node.value, seen)
        elif not isinstance(expr, ast.Name):
            self.unresolved.append(ast.unparse(expr))


def _trees(paths: list[Path]) -> list[ast.Module]:
    return [ast.parse(path.read_text(), str(path)) for path in paths]


def _string_constants(trees: list[ast.Module]) -> set[str]:
    return {
        node.value
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_catalogue_covers_every_rule_id_in_the_validators_source():
    literals = _RuleLiterals(_trees(SOURCES))
    assert literals.unresolved == [], "rule positions this test cannot read"
    assert {"R4", "D1", "D3", "PARSE", "HTTP", "CORS", "R12", "STRUCT"} <= literals.found
    assert sorted(literals.found - set(rules.RULES)) == []
    lettered = {
        s for s in _string_constants(_trees(SOURCES + OTHER_REPORTERS)) if LETTERED_ID.fullmatch(s)
    }
    assert sorted(lettered - set(rules.RULES)) == []


def test_every_catalogued_rule_is_one_the_validator_can_report():
    assert sorted(set(rules.RULES) - _RuleLiterals(_trees(SOURCES)).found) == []


def test_every_rule_has_an_id_a_one_line_meaning_and_a_reference():
    assert len(rules.RULES) == len(rules.catalogue_lines()) >= 27
    for rule_id, rule in rules.RULES.items():
        assert rule.id == rule_id and re.fullmatch(r"[A-Z]+[0-9]*", rule_id)
        assert rule.meaning and "\n" not in rule.meaning and len(rule.meaning) < 200
        assert re.search(r"RFC 8216bis §\d|project", rule.reference), rule


def test_an_unknown_rule_id_raises():
    with pytest.raises(rules.UnknownRule, match="'R0'"):
        rules.rule("R0")
    assert issubclass(rules.UnknownRule, LookupError)
    with pytest.raises(rules.UnknownRule):
        Finding("X9", "a rule nobody wrote down")
    with pytest.raises(rules.UnknownRule):
        Violation("T0", "a rule nobody wrote down", "http://x/v.m3u8")
    checker = Checker()
    with pytest.raises(rules.UnknownRule):
        checker.report("NOPE", "a rule nobody wrote down", variant="http://x/v.m3u8", at=0.0)
    assert checker.ok and checker.violations == []


def test_a_violation_carries_its_id_its_meaning_and_its_detail():
    checker = Checker()
    (found,) = checker.observe_media("http://x/v.m3u8", "not a playlist", 10.0, viewer="v1")
    meaning = rules.rule("PARSE").meaning
    assert found.meaning == meaning
    line = found.line()
    assert line.startswith("[PARSE] variant=http://x/v.m3u8 viewer=v1 ")
    assert found.message in line and line.endswith(f" — {meaning}")
    as_dict = found.to_dict()
    assert as_dict["rule"] == "PARSE" and as_dict["message"] == found.message
    assert as_dict["meaning"] == meaning and as_dict["reference"] == rules.rule("PARSE").reference
    assert checker.summary()["examples"][0]["meaning"] == meaning


def test_rig_validate_rules_prints_the_catalogue_without_a_url(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "--rules"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out == rules.catalogue_lines()
    assert [line.split()[0] for line in out] == list(rules.RULES)
    for line, rule in zip(out, rules.RULES.values(), strict=True):
        assert rule.meaning in line and line.endswith(f"[{rule.reference}]")


# ------------------------------------------------------------------ the repo's own knowledge

CITED_ID = re.compile(r"\b[RTDPMIF][1-9][0-9]?\b")  # T0 is a time in the tests, not a rule
DEFINED_IN_DOCS = re.compile(r"\*\*([A-Z][1-9][0-9]?)\b")  # `- **R3** ...`, `**T4 (media)**`


def _repo_texts() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "Makefile"]
    for top in ("rig", "stitcher", "origin_emulator", "tui", "tests", "docs"):
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".md") and p.is_file()]
    return [p for p in files if p.exists()]


def test_every_rule_id_the_repo_cites_is_defined_in_the_repo():
    docs = (ROOT / "docs" / "references.md").read_text() + (
        ROOT / "docs" / "architecture.md"
    ).read_text()
    defined = set(rules.RULES) | set(DEFINED_IN_DOCS.findall(docs))
    cited: dict[str, str] = {}
    for path in _repo_texts():
        for rule_id in CITED_ID.findall(path.read_text(errors="replace")):
            cited.setdefault(rule_id, str(path.relative_to(ROOT)))
    assert {k: v for k, v in sorted(cited.items()) if k not in defined} == {}


def test_nothing_in_the_repo_points_outside_it():
    outside = ["../" + "shared", "/work/" + "shared", "DESIGN" + ".md", "REFERENCES" + ".md"]
    found = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in _repo_texts()
        for needle in outside
        if needle in path.read_text(errors="replace")
    ]
    assert found == []
