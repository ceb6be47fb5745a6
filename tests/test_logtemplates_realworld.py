"""Raw log lines with real-world headers: the header is recognised and does not decide grouping."""

from __future__ import annotations

import pytest

from tools.anomaly.logheader import header_length
from tools.anomaly.logtemplates import TemplateMiner, mine, split_line

HEADERS = [
    ("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
     "blk_38865049064139660 terminating", "PacketResponder"),
    ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11"
     " RAS KERNEL INFO instruction cache parity error corrected", "instruction"),
    ("Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user webmaster from "
     "173.234.31.186 port 38926 ssh2", "Failed"),
    ("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
     "workerEnv.init()"),
    ("2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection"
     "@774] - Notification time out: 3200", "Notification"),
    ("2015-10-18 18:01:47,978 INFO [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app."
     "rm.RMContainerAllocator: ERROR IN CONTACTING RM.", "ERROR"),
    ("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579", "onStandStepChanged"),
    ("[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy "
     "proxy.cse.cuhk.edu.hk:5070 HTTPS", "<*>"),
    ("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogsopening app",
     "printFreezingDisplayLogsopening"),
    ("Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: AirPort: Link Down on awdl0",
     "AirPort:"),
    ("KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-19.32.07.419423 "
     "R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt", "data"),
    ("[11.01 10:12:46] WeChatWeb.exe *64 - short.weixin.qq.com:80 close, 542 bytes sent", "<*>"),
    ("Jul  8 08:10:46 authorMacBook-Pro Google Chrome Helper[7]: Libnotify: notify failed",
     "Libnotify:"),
    ("nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:04.500 2931 INFO "
     "nova.compute.manager [req-3ea4052c-895d-4b64 - - - - -] [instance: b9000564-fe1a] VM "
     "Started (Lifecycle Event)", "VM"),
    ("Jun  9 06:06:20 combo syslogd 1.4.1: restart.", "restart."),
]


@pytest.mark.parametrize(("line", "first"), HEADERS)
def test_the_header_is_split_off_and_masked(line, first):
    head, message = split_line(line)
    assert head and message[0] == first
    assert not any(ch.isdigit() for tok in head for ch in tok if tok != "[RMCommunicator")


def test_plain_messages_keep_every_token():
    for message in ("GET /cart 200 12ms user=alice", "User alice logged in",
                    "connection refused by upstream db-1"):
        assert header_length(message.split()) == 0


def test_lines_of_one_event_group_whatever_their_level_host_or_program():
    lines = [
        "[10.30 16:49:06] chrome.exe - www.google.com:443 open through proxy p.example:5070 HTTPS",
        "[10.30 16:49:07] firefox.exe - api.github.com:443 open through proxy p.example:5070 HTTPS",
        "[10.30 16:49:09] QQ.exe - mail.qq.com:80 open through proxy p.example:5070 HTTPS",
        "[10.30 16:49:10] QQ.exe - mail.qq.com:80 close, 0 bytes sent, 0 bytes received, "
        "lifetime 00:01",
        "[10.30 16:49:11] chrome.exe - www.google.com:443 close, 1190 bytes (1.16 KB) sent, 1671 "
        "bytes (1.63 KB) received, lifetime <1 sec",
    ]
    ids, miner = mine(lines)
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert ids[3] == ids[4]  # optional `(1.16 KB)` values and `<1 sec` stay one template
    assert miner.templates[ids[0] - 1].text.endswith("<*> open through proxy <*> HTTPS")


def test_syslog_events_differing_in_user_group_and_different_events_do_not():
    lines = [f"Dec 10 06:55:{s:02d} LabSZ sshd[{pid}]: Failed password for {user} from "
             f"10.0.0.{s} port {4000 + s} ssh2"
             for s, pid, user in ((1, 24200, "root"), (2, 24201, "admin"), (3, 311, "guest"),
                                  (4, 312, "oracle"))]
    lines.append("Dec 10 06:55:59 LabSZ sshd[24300]: Received disconnect from 10.1.1.1: 11: Bye "
                 "Bye [preauth]")
    lines.append("Dec 10 06:56:10 LabSZ sshd[24301]: Connection closed by 10.1.1.2 [preauth]")
    ids, miner = mine(lines)
    assert ids[0] == ids[1] == ids[2] == ids[3]
    assert len({ids[0], ids[4], ids[5]}) == 3
    assert miner.templates[ids[0] - 1].text == (
        "Dec <*> <*> LabSZ <*> Failed password for <*> from <*> port <*> ssh2")


def test_hdfs_variable_length_block_lists_are_one_template():
    miner = TemplateMiner()
    a = miner.add("081109 214043 2561 INFO dfs.FSNamesystem: BLOCK* ask 10.250.14.224:50010 to "
                  "delete  blk_-5140072410813878235")
    b = miner.add("081109 214043 2561 INFO dfs.FSNamesystem: BLOCK* ask 10.251.71.68:50010 to "
                  "delete  blk_1 blk_2 blk_-3")
    c = miner.add("081109 214044 19 INFO dfs.DataBlockScanner: Verification succeeded for "
                  "blk_-1")
    assert a is b and c is not a


def test_a_loghub_shaped_sample_groups_well():
    from evals.loghub_like_catalog import SYSTEMS
    from tools.anomaly.logtemplates import grouping_accuracy

    for system in SYSTEMS:
        # Not OpenSSH: its generator calls `rhost=<*> user=<any>` one event, where Loghub's
        # annotators give each user its own (see evals.bench_loghub on the real files).
        if system.name in ("HDFS", "BGL", "Zookeeper", "HealthApp"):
            lines, labels = system.generate(600, seed=7)
            ids, _ = mine(lines)
            assert grouping_accuracy(labels, ids) >= 0.95, system.name


def test_the_command_writes_one_template_per_event_for_raw_hdfs_lines(tmp_path):
    import csv

    from typer.testing import CliRunner

    from bot.cli import app

    src, dst = tmp_path / "hdfs.log", tmp_path / "t.csv"
    src.write_text(
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
        "blk_38865049064139660 terminating\n"
        "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block "
        "blk_-6952295868487656571 terminating\n"
        "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap "
        "updated: 10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864\n"
        "081109 204015 308 WARN dfs.DataNode$PacketResponder: PacketResponder 2 for block "
        "blk_8229193803249955061 terminating\n")
    result = CliRunner().invoke(app, ["logs", "templates", str(src), "-o", str(dst)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(dst.open()))[1:]
    assert [r[1] for r in rows] == ["T1", "T1", "T2", "T1"]  # the WARN line is the same event
    assert rows[0][2] == ("<*> <*> <*> <*> dfs.DataNode$PacketResponder: PacketResponder <*> for "
                          "block <*> terminating")


def test_the_shape_shortcut_changes_no_grouping():
    """Lines equal up to their digits reuse the first one's header split and masks; mining
    without that shortcut must give the same templates."""
    from evals.loghub_like_catalog import SYSTEMS

    for system in SYSTEMS:
        lines, _ = system.generate(300, seed=11)
        fast, slow = TemplateMiner(), TemplateMiner()
        fast_ids = [fast.add(line).id for line in lines]
        slow_ids = []
        for line in lines:
            slow_ids.append(slow.add(line).id)
            slow._shapes.clear()
        assert fast_ids == slow_ids, system.name
        assert [t.text for t in fast.templates] == [t.text for t in slow.templates]


def test_binary_input_is_refused_with_one_line_and_nothing_written(tmp_path):
    import random

    from typer.testing import CliRunner

    from bot.cli import app

    src, dst = tmp_path / "random.bin", tmp_path / "t.csv"
    src.write_bytes(b"081109 203615 148 INFO ok\n" + random.Random(3).randbytes(4096))
    result = CliRunner().invoke(app, ["logs", "templates", str(src), "-o", str(dst)])
    assert result.exit_code == 2
    assert "not a text log" in result.output and len(result.output.strip().splitlines()) == 1
    assert not dst.exists() and list(tmp_path.iterdir()) == [src]


def test_utf8_text_is_not_taken_for_binary(tmp_path):
    from typer.testing import CliRunner

    from bot.cli import app

    src = tmp_path / "utf8.log"
    src.write_text("2024-01-01 10:00:00 INFO Benutzer Jürgen angemeldet — 東京\n" * 3,
                   encoding="utf-8")
    result = CliRunner().invoke(app, ["logs", "templates", str(src)])
    assert result.exit_code == 0, result.output
