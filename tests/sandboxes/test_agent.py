"""sandboxes.agent, the docker backend's in-container agent, outside a container: the
post-run check that decides whether a container is still as fresh as at its start.
(Everything else it does is exercised through the docker tests.)"""

from __future__ import annotations

import os

from sandboxes import agent


def make_areas(tmp_path):
    areas = {}
    for name, mode in (("sandbox", 0o700), ("tmp", 0o1777)):
        path = tmp_path / name
        path.mkdir()
        path.chmod(mode)
        areas[str(path)] = path
    return areas


def test_a_clean_container_passes(tmp_path):
    areas = make_areas(tmp_path)
    shared = agent.baseline(list(areas))
    assert agent.wipe(shared, sysv=()) == []


def test_leftovers_are_wiped_and_the_areas_still_pass(tmp_path):
    areas = make_areas(tmp_path)
    shared = agent.baseline(list(areas))
    work = areas[str(tmp_path / "sandbox")] / "run.1" / "deep"
    work.mkdir(parents=True)
    (work / "f").write_text("x")
    work.chmod(0)  # a dir the program made unreadable is made walkable, then removed
    os.symlink("/etc/passwd", tmp_path / "tmp" / "link")
    assert agent.wipe(shared, sysv=()) == []
    assert os.listdir(tmp_path / "sandbox") == [] and os.listdir(tmp_path / "tmp") == []
    assert os.path.exists("/etc/passwd")  # a link is removed, never followed


def test_a_changed_mode_or_owner_damages_the_container(tmp_path):
    areas = make_areas(tmp_path)
    shared = agent.baseline(list(areas))
    (tmp_path / "sandbox").chmod(0o500)  # listable, not writable: the next run could not work
    problems = agent.wipe(shared, sysv=())
    assert any("had mode 0o500" in p for p in problems)
    if os.geteuid() == 0:
        os.chown(tmp_path / "tmp", 12345, -1)
        assert any("owner 12345" in p for p in agent.wipe(shared, sysv=()))


def test_sysv_ipc_objects_damage_the_container(tmp_path):
    areas = make_areas(tmp_path)
    shared = agent.baseline(list(areas))
    table = tmp_path / "msg"
    table.write_text("       key      msqid perms\n")
    assert agent.wipe(shared, sysv=(str(table),)) == []
    table.write_text("       key      msqid perms\n  1234 0 666\n")
    assert agent.wipe(shared, sysv=(str(table),)) == [f"SysV IPC objects left ({table})"]
