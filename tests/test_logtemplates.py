"""Log template mining: masking, grouping, bad lines, and the sandbox's own templates."""

from __future__ import annotations

from tools.anomaly.logtemplates import (
    BINARY_TEMPLATE,
    MAX_LINE_CHARS,
    TemplateMiner,
    grouping_accuracy,
    mask,
    mine,
)
from tools.sandbox.log_templates import TEMPLATES
from tools.sandbox.simulator import load_sandbox


def test_mask_hides_ips_ids_paths_numbers_and_durations():
    line = ("Receiving block blk_-160899 src: /10.250.19.102:54106 took 35ms "
            "path=/var/lib/data user_id=u-12345 at 2026-11-20T18:05:00Z")
    assert mask(line) == ("Receiving block <*> src: <*> took <*> path=<*> user_id=<*> at <*>")


def test_lines_of_one_template_share_it_and_variables_become_wildcards():
    lines = [f"Connection from {ip} closed after {n}ms" for ip, n in
             (("10.0.0.1", 5), ("10.0.0.2", 17), ("192.168.1.9", 250))]
    users = ("alice", "bob", "carol", "dave", "erin")
    lines += [f"User {user} logged in" for user in users] + ["disk full on /dev/sda1"]
    ids, miner = mine(lines)
    final = [miner.templates[i - 1].resolved() for i in ids]
    assert final[0] is final[1] is final[2]
    assert all(t is final[3] for t in final[3:8]) and final[3] is not final[0]
    assert final[0].text == "Connection from <*> closed after <*>"
    assert final[3].text == "User <*> logged in"


def test_a_word_with_few_values_in_one_place_is_part_of_the_event():
    """Loghub's annotators keep `cupsd startup succeeded` and `cupsd shutdown succeeded` apart
    (and `user=root` from `user=guest`); a place holding many words is a variable."""
    lines = ["cupsd startup succeeded", "cupsd shutdown succeeded", "cupsd startup succeeded",
             "session opened for user root by (uid=0)", "session opened for user news by (uid=0)"]
    ids, miner = mine(lines)
    assert ids[0] == ids[2] != ids[1]
    assert ids[3] != ids[4]
    more = [miner.add(f"session opened for user {u} by (uid=0)") for u in ("cyrus", "test")]
    more = [t.resolved() for t in more]
    assert more[0] is more[1] is miner.templates[ids[3] - 1].resolved()
    assert more[0].text == "session opened for user <*> by (uid=<*>)"


def test_binary_and_enormous_lines_have_defined_templates():
    miner = TemplateMiner()
    assert miner.add("\x00\x01\x02garbage\x00").text == BINARY_TEMPLATE
    huge = miner.add("x" * (MAX_LINE_CHARS * 10))
    assert len(huge.text) <= MAX_LINE_CHARS
    assert miner.add("").text == ""


def test_grouping_accuracy_is_strict():
    assert grouping_accuracy(["a", "a", "b"], [1, 1, 2]) == 1.0
    assert grouping_accuracy(["a", "a", "b"], [1, 1, 1]) == 0.0
    assert grouping_accuracy(["a", "a", "b"], [1, 2, 3]) == 1 / 3


def test_sandbox_logs_group_by_their_true_template():
    sb = load_sandbox("dependency-down-redis")
    records = sb.logs("cart", sb.now - 3600, sb.now + 600)

    def text(tid: str) -> str:
        group, index = tid.rsplit("-", 1)
        return TEMPLATES[group][int(index) - 1]

    ids, _ = mine([r.message for r in records])
    assert grouping_accuracy([text(r.template_id) for r in records], ids) >= 0.95


def test_log_anomalies_flag_the_fault_and_not_the_quiet_day():
    from tools.anomaly.logstats import detect_log_anomalies

    sb = load_sandbox("pool-exhaustion-payment")
    fault = sb.scenario.faults[0]
    start, end = fault.start - 2 * 3600, fault.start + 900
    found = detect_log_anomalies(sb.logs(None, start, end), start, end)
    assert found and all(fault.start <= a.start < end for a in found)
    kinds = {(a.kind, a.service) for a in found}
    assert ("error_burst", "payment") in kinds
    assert any(a.kind == "new_template" and "pool exhausted" in a.template for a in found)
    quiet = load_sandbox("quiet")
    q_end = quiet.start + 4 * 3600
    assert detect_log_anomalies(quiet.logs(None, quiet.start, q_end), quiet.start, q_end) == []


def test_search_logs_groups_lines_by_the_mined_template_per_service():
    from tools.backends import LogLine
    from tools.logs import summarise
    from tools.logstore import line_templates

    lines = [LogLine(i, "api", "ERROR", f"upstream {host} timed out after {ms}ms")
             for i, (host, ms) in enumerate((("db-1", 30), ("10.0.0.7:5432", 2500),
                                              ("cache.svc.local", 7)))]
    lines.append(LogLine(8, "web", "ERROR", "upstream db-2 timed out after 9ms"))
    # A backend's own template id does not decide the group: the store mines every line.
    lines.append(LogLine(9, "api", "INFO", "GET /x 200", template_id="api-001"))
    templates = line_templates(lines)
    assert [t.text for t in templates[:4]] == ["upstream <*> timed out after <*>"] * 4
    assert templates[0].key == templates[1].key == templates[2].key != templates[3].key
    assert templates[4].text == "GET <*> <*>"
    top = summarise(lines)
    assert (top[0].template, top[0].count) == ("upstream <*> timed out after <*>", 3)


def test_a_template_keeps_its_key_across_the_windows_mined_together():
    from tools.backends import LogLine
    from tools.logstore import line_templates

    before = [LogLine(i, "svc", "WARN", f"retrying call to db (attempt {i % 3}/3) after {i}ms")
              for i in range(3)]
    after = [LogLine(100 + i, "svc", "WARN", f"retrying call to db (attempt {i % 3}/3) after "
                                             f"{10 * i}ms") for i in range(5)]
    mined = line_templates(before + after)
    assert len({t.key for t in mined}) == 1
    # Each line names its template's final form, even lines mined before it generalised.
    assert len({t.text for t in mined}) == 1
