"""The publishing workflow runs the README's commands and nothing else, then deploys the HTML book."""

import re

import pytest
import yaml

from .conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
#: What the workflow may use besides the make targets: checkout, caches, the Pages upload and deploy.
ACTIONS = {"actions/checkout", "actions/cache", "actions/upload-pages-artifact", "actions/deploy-pages"}


def check_workflow(workflow: dict, readme: str) -> list[str]:
    """Every way ``workflow`` departs from "the README's commands, then a static-site deploy"."""
    problems = []
    triggers = workflow.get("on", workflow.get(True)) or {}  # YAML 1.1 reads a bare `on` as True
    for trigger in ("push", "workflow_dispatch", "schedule"):
        if trigger not in triggers:
            problems.append(f"no {trigger} trigger")
    if (triggers.get("push") or {}).get("branches") != ["main"]:
        problems.append("push does not build main")
    steps = [s for job in workflow["jobs"].values() for s in job.get("steps", [])]
    runs = [s["run"].strip() for s in steps if "run" in s]
    if runs != ["make test", "make book", "make pdf"]:
        problems.append(f"commands are not make test, make book, make pdf: {runs}")
    for command in sorted(set(runs)):
        if f"{command}  " not in readme and f"{command} " not in readme:
            problems.append(f"`{command}` is not a README command")
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    problems += [f"uses {u}" for u in uses if u not in ACTIONS]
    cached = " ".join(s["with"]["path"] for s in steps if s.get("uses", "").startswith("actions/cache"))
    for path in (".venv", "results/*/cache"):
        if path not in cached.split():
            problems.append(f"{path} is not cached")
    uploads = [s["with"]["path"] for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    if uploads != ["_build/html"]:
        problems.append(f"uploads {uploads}, not _build/html")
    if "actions/deploy-pages" not in uses:
        problems.append("nothing is deployed")
    env = " ".join(str(job.get("env", {}).get("PROFILE", "")) for job in workflow["jobs"].values())
    if not re.search(r"schedule.*full", env) or "inputs.profile" not in env:
        problems.append("the full profile runs neither on the schedule nor on demand")
    return problems


def test_the_workflow_runs_the_readme_commands_and_deploys_the_book():
    readme = (ROOT / "README.md").read_text()
    assert check_workflow(yaml.safe_load(WORKFLOW.read_text()), readme) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda w: w["jobs"]["build"]["steps"].insert(1, {"run": "pip install -r requirements.txt"}), "commands are"),
        (lambda w: w["jobs"]["build"]["steps"].append({"uses": "someone/publish@v1"}), "uses someone/publish"),
        (lambda w: w["jobs"]["build"]["steps"][1]["with"].update(path="venv"), ".venv is not cached"),
        (lambda w: w["jobs"]["build"]["env"].update(PROFILE="ci"), "the full profile"),
        (lambda w: w["jobs"].pop("deploy"), "nothing is deployed"),
        (lambda w: w.pop(True, None) or w.pop("on", None), "no push trigger"),
    ],
)
def test_the_workflow_check_catches_departures(change, expected):
    workflow = yaml.safe_load(WORKFLOW.read_text())
    change(workflow)
    assert any(p.startswith(expected) for p in check_workflow(workflow, (ROOT / "README.md").read_text()))
