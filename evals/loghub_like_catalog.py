"""The LogHub-shaped systems: each one's raw header layout and labelled templates.

Headers follow the log formats LogPAI's benchmark documents per system, for example HDFS
`<Date> <Time> <Pid> <Level> <Component>: <Content>` and BGL `<Label> <Timestamp> <Date> <Node>
<Time> <NodeRepeat> <Type> <Component> <Level> <Content>`. Where a header field depends on the
event (level, component, thread), it is written at the start of the template text. Templates
sharing a label are one event whose header differs (the truth is defined on the content).
"""

from __future__ import annotations

import random
import time

from evals.loghub_like_systems import DAYS, MONTHS, PROGRAMS, System, Vars


def _t(clock: int) -> time.struct_time:
    return time.gmtime(clock)


def _ms(r: random.Random) -> str:
    return f"{r.randint(0, 999):03d}"


def _syslog(t: time.struct_time) -> str:
    return f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {time.strftime('%H:%M:%S', t)}"


def hdfs_h(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("%y%m%d %H%M%S ", _t(c)) + f"{r.randint(1, 40) * r.choice((1, 7, 31))} "


def iso_ms(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S,", _t(c)) + _ms(r) + " "


def spark_h(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("%y/%m/%d %H:%M:%S ", _t(c))


def zk_h(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S,", _t(c)) + _ms(r) + " - "


def bgl_h(r: random.Random, v: Vars, c: int) -> str:
    t = _t(c)
    node = f"{v.node()}-C:J{r.randint(2, 17):02d}-U{r.choice((1, 11))}"
    return (f"- {c} {time.strftime('%Y.%m.%d', t)} {node} "
            f"{time.strftime('%Y-%m-%d-%H.%M.%S', t)}.{r.randint(0, 999999):06d} {node} ")


def hpc_h(r: random.Random, v: Vars, c: int) -> str:
    return f"{r.randint(1, 480000)} node-{r.randint(0, 255)} "


def tbird_h(r: random.Random, v: Vars, c: int) -> str:
    t = _t(c)
    node = r.choice(("dn", "bn", "an", "cn")) + str(r.randint(1, 999))
    return (f"- {c} {time.strftime('%Y.%m.%d', t)} {node} {MONTHS[t.tm_mon - 1]} {t.tm_mday} "
            f"{time.strftime('%H:%M:%S', t)} {node}/{node} ")


def windows_h(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S, ", _t(c))


def linux_h(r: random.Random, v: Vars, c: int) -> str:
    return f"{_syslog(_t(c))} combo "


def android_h(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("%m-%d %H:%M:%S.", _t(c)) + f"{_ms(r)} {r.randint(1, 32000):5d} " \
        f"{r.randint(1, 32000):5d} "


def health_h(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("%Y%m%d-%H:%M:%S:", _t(c)) + f"{r.randint(0, 999)}|"


def apache_h(r: random.Random, v: Vars, c: int) -> str:
    t = _t(c)
    return f"[{DAYS[t.tm_wday]} {MONTHS[t.tm_mon - 1]} {time.strftime('%d %H:%M:%S %Y', t)}] "


def ssh_h(r: random.Random, v: Vars, c: int) -> str:
    return f"{_syslog(_t(c))} LabSZ sshd[{r.randint(1000, 32000)}]: "


def openstack_h(r: random.Random, v: Vars, c: int) -> str:
    t = _t(c)
    svc = r.choice(("nova-api", "nova-compute", "nova-scheduler"))
    return (f"{svc}.log.{r.randint(1, 2)}.{time.strftime('%Y-%m-%d_%H:%M:%S', t)} "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', t)}.{_ms(r)} {r.randint(2000, 30000)} ")


def proxifier_h(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("[%m.%d %H:%M:%S] ", _t(c)) + f"{r.choice(PROGRAMS)} - "


def mac_h(r: random.Random, v: Vars, c: int) -> str:
    host = f"calvisitor-10-105-{r.randint(160, 163)}-{r.randint(1, 254)}" \
        if r.random() < 0.8 else "authorMacBook-Pro"
    return f"{_syslog(_t(c))} {host} "


_NN = "dfs.DataNode"
_RM = "[RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator:"
_SCHED = (" Scheduling: PendingReds:{small} ScheduledMaps:{small} ScheduledReds:{small} "
          "AssignedMaps:{small} AssignedReds:{small} CompletedMaps:{small} CompletedReds:{small} "
          "ContAlloc:{small} ContRel:{small} HostLocal:{small} RackLocal:{small}")
_TA = "[AsyncDispatcher event handler] org.apache.hadoop.mapreduce.v2.app.job.impl."
_NIO = "[NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:"
_QP = "[QuorumPeer[myid={small}]/0:0:0:0:0:0:0:0:2181:"
_CBS = "Info                  CBS    "
_REQ = "[req-{uuid} - - - - -]"
_REQU = "[req-{uuid} {hex32} {hex32} - - -]"
_INST = "[instance: {uuid}]"
_WSGI = "INFO nova.osapi_compute.wsgi.server " + _REQU + " {ip} \""
_RT = "INFO nova.compute.resource_tracker " + _REQ
_AUTH = "authentication failure; logname= uid=0 euid=0 tty="

SYSTEMS = (
    System("HDFS", hdfs_h, (
        ("receiving", 290, "INFO " + _NN + "$DataXceiver: Receiving block {blk} src: /{ip}:{port} "
                           "dest: /{ip}:50010"),
        ("responder", 310, "INFO " + _NN + "$PacketResponder: PacketResponder {small} for block "
                           "{blk} terminating"),
        ("received", 290, "INFO " + _NN + "$PacketResponder: Received block {blk} of size {num} "
                          "from /{ip}"),
        ("stored", 310, "INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap "
                        "updated: {ip}:50010 is added to {blk} size {num}"),
        ("allocate", 115, "INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/root/"
                          "rand/_temporary/_task_{num}_m_{num}_0/part-{num}. {blk}"),
        ("verified", 80, "INFO dfs.DataBlockScanner: Verification succeeded for {blk}"),
        ("deleting", 260, "INFO dfs.FSDataset: Deleting block {blk} file /mnt/hadoop/dfs/data/"
                          "current/subdir{small}/{blk}"),
        ("invalid", 220, "INFO dfs.FSNamesystem: BLOCK* NameSystem.delete: {blk} is added to "
                         "invalidSet of {ip}:50010"),
        ("served", 22, "INFO " + _NN + "$DataXceiver: {ip}:50010 Served block {blk} to /{ip}"),
        ("got_exc", 16, "WARN " + _NN + "$DataXceiver: {ip}:50010:Got exception while serving "
                        "{blk} to /{ip}:"),
        ("write_exc", 4, "INFO " + _NN + "$DataXceiver: writeBlock {blk} received exception "
                         "java.io.IOException: Could not read from stream"),
        ("transmitted", 3, "INFO " + _NN + "$DataTransfer: {ip}:50010:Transmitted block {blk} "
                           "to /{ip}:50010"),
        ("transfer", 3, "INFO " + _NN + ": {ip}:50010 Starting thread to transfer block {blk} "
                        "to {ip}:50010"),
        ("replicate", 2, "INFO dfs.FSNamesystem: BLOCK* ask {ip}:50010 to replicate {blk} to "
                         "datanode(s) {ip}:50010"),
        ("ask_delete", 4, "INFO dfs.FSNamesystem: BLOCK* ask {ip}:50010 to delete {blks}"),
    )),
    System("Hadoop", iso_ms, (
        ("before", 200, "INFO " + _RM + " Before" + _SCHED),
        ("after", 150, "INFO " + _RM + " After" + _SCHED),
        ("attempt", 150, "INFO " + _TA + "TaskAttemptImpl: {attempt} TaskAttempt Transitioned "
                         "from {NEW|UNASSIGNED|ASSIGNED|RUNNING} to "
                         "{UNASSIGNED|ASSIGNED|RUNNING|SUCCESS_CONTAINER_CLEANUP}"),
        ("task", 80, "INFO " + _TA + "TaskImpl: task_{num}_{num}_m_{num} Task Transitioned "
                     "from {NEW|SCHEDULED|RUNNING} to {SCHEDULED|RUNNING|SUCCEEDED}"),
        ("headroom", 120, "INFO " + _RM + " Recalculating schedule, headroom=<memory:{num}, "
                          "vCores:{small}>"),
        ("slowstart", 120, "INFO " + _RM + " Reduce slow start threshold not met. "
                           "completedMapsForReduceSlowstart {num}"),
        ("lease", 100, "WARN [LeaseRenewer:msrabi@msra-sa-41:9000] org.apache.hadoop.hdfs."
                       "LeaseRenewer: Failed to renew lease for [DFSClient_NONMAPREDUCE_{num}_1]"
                       " for {num} seconds.  Will retry shortly ..."),
        ("progress", 90, "INFO [IPC Server handler {small} on {port}] org.apache.hadoop.mapred."
                         "TaskAttemptListenerImpl: Progress of TaskAttempt {attempt} is : {secs}"),
        ("addr", 60, "WARN [RMCommunicator Allocator] org.apache.hadoop.ipc.Client: Address "
                     "change detected. Old: msra-sa-41/{ip}:8030 New: msra-sa-41:8030"),
        ("rm_error", 40, "ERROR " + _RM + " ERROR IN CONTACTING RM."),
        ("launch", 40, "INFO [ContainerLauncher #{small}] org.apache.hadoop.mapreduce.v2.app."
                       "launcher.ContainerLauncherImpl: Processing the event EventType: "
                       "{CONTAINER_REMOTE_LAUNCH|CONTAINER_REMOTE_CLEANUP} for container "
                       "container_{num}_{num}_01_{num} taskAttempt {attempt}"),
        ("created", 5, "INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created "
                       "MRAppMaster for application appattempt_{num}_{num}_{num}"),
        ("tokens", 5, "INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Executing "
                      "with tokens:"),
        ("snapshot", 5, "INFO [main] org.apache.hadoop.metrics2.impl.MetricsSystemImpl: "
                        "Scheduled snapshot period at {small} second(s)."),
        ("sleeping", 20, "INFO [main] org.apache.hadoop.mapred.YarnChild: Sleeping for {ms} "
                         "before retrying again. Got null now."),
    )),
    System("Spark", spark_h, (
        ("found", 300, "INFO storage.BlockManager: Found block rdd_{small}_{num} locally"),
        ("running", 250, "INFO executor.Executor: Running task {num}.0 in stage {num}.0 "
                         "(TID {num})"),
        ("finished", 250, "INFO executor.Executor: Finished task {num}.0 in stage {num}.0 "
                          "(TID {num}). {num} bytes result sent to driver"),
        ("partition", 150, "INFO spark.CacheManager: Partition rdd_{small}_{num} not found, "
                           "computing it"),
        ("values", 120, "INFO storage.MemoryStore: Block broadcast_{num} stored as values in "
                        "memory (estimated size {size}, free {size})"),
        ("bytes", 120, "INFO storage.MemoryStore: Block broadcast_{num}_piece0 stored as bytes "
                       "in memory (estimated size {size}, free {size})"),
        ("started", 100, "INFO broadcast.TorrentBroadcast: Started reading broadcast variable "
                         "{num}"),
        ("reading", 100, "INFO broadcast.TorrentBroadcast: Reading broadcast variable {num} "
                         "took {num} ms"),
        ("split", 80, "INFO rdd.HadoopRDD: Input split: hdfs://10.10.34.11:9000/pjhe/test/"
                      "{small}/{word}:{num}+{num}"),
        ("assigned", 250, "INFO executor.CoarseGrainedExecutorBackend: Got assigned task {num}"),
        ("times", 80, "INFO python.PythonRunner: Times: total = {num}, boot = {num}, init = "
                      "{num}, finish = {num}"),
        ("removing", 10, "INFO storage.BlockManager: Removing RDD {num}"),
        ("saved", 10, "INFO output.FileOutputCommitter: Saved output of task 'attempt_{num}_"
                      "{num}_m_{num}_{num}' to hdfs://10.10.34.11:9000/pjhe/{word}/_temporary/0/"
                      "task_{num}"),
        ("signal", 3, "INFO util.SignalUtils: Registered signal handler for {TERM|HUP|INT}"),
        ("view_acls", 3, "INFO spark.SecurityManager: Changing view acls to: {user}"),
        ("modify_acls", 3, "INFO spark.SecurityManager: Changing modify acls to: {user}"),
        ("sigterm", 3, "ERROR executor.CoarseGrainedExecutorBackend: RECEIVED SIGNAL 15: "
                       "SIGTERM"),
        ("localdir", 3, "INFO storage.DiskBlockManager: Created local directory at /opt/hdfs/"
                        "nodemanager/usercache/curi/appcache/application_{num}_{num}/"
                        "blockmgr-{uuid}"),
    )),
    System("Zookeeper", zk_h, (
        ("interrupted", 300, "WARN  [SendWorker:{num}:QuorumCnxManager$SendWorker@679] - "
                             "Interrupted while waiting for message on queue"),
        ("leaving", 250, "WARN  [SendWorker:{num}:QuorumCnxManager$SendWorker@688] - Send "
                         "worker leaving thread"),
        ("broken", 200, "WARN  [RecvWorker:{num}:QuorumCnxManager$RecvWorker@762] - Connection "
                        "broken for id {num}, my id = {small}, error = "),
        ("interrupting", 200, "WARN  [RecvWorker:{num}:QuorumCnxManager$RecvWorker@765] - "
                              "Interrupting SendWorker"),
        ("conn_req", 200, "INFO  [/{ip}:3888:QuorumCnxManager$Listener@493] - Received "
                          "connection request /{ip}:{port}"),
        ("accepted", 250, "INFO  " + _NIO + "NIOServerCnxnFactory@197] - Accepted socket "
                          "connection from /{ip}:{port}"),
        ("closed", 200, "INFO  " + _NIO + "NIOServerCnxn@1001] - Closed socket connection for "
                        "client /{ip}:{port} which had sessionid 0x{hex}"),
        ("closed_nosess", 60, "INFO  " + _NIO + "NIOServerCnxn@1001] - Closed socket connection "
                              "for client /{ip}:{port} (no session established for client)"),
        ("established", 150, "INFO  [CommitProcessor:{small}:ZooKeeperServer@595] - Established "
                             "session 0x{hex} with negotiated timeout {num} for client "
                             "/{ip}:{port}"),
        ("attempting", 150, "INFO  " + _NIO + "ZooKeeperServer@839] - Client attempting to "
                            "establish new session at /{ip}:{port}"),
        ("eos", 100, "WARN  " + _NIO + "NIOServerCnxn@349] - caught end of stream exception"),
        ("termination", 80, "INFO  [ProcessThread(sid:{small} cport:-1)::PrepRequestProcessor"
                            "@476] - Processed session termination for sessionid: 0x{hex}"),
        ("expiring", 80, "INFO  [SessionTracker:ZooKeeperServer@325] - Expiring session "
                         "0x{hex}, timeout of {num}ms exceeded"),
        ("timeout", 40, "INFO  " + _QP + "FastLeaderElection@774] - Notification time out: "
                        "{num}"),
        ("notification", 40, "INFO  [WorkerReceiver[myid={small}]:FastLeaderElection@542] - "
                             "Notification: {small} (n.leader), 0x{hex} (n.zxid), 0x{small} "
                             "(n.round), {LOOKING|FOLLOWING|LEADING} (n.state), {small} (n.sid),"
                             " 0x{small} (n.peerEPoch), {LOOKING|FOLLOWING|LEADING} (my state)"),
        ("looking", 10, "INFO  " + _QP + "QuorumPeer@670] - LOOKING"),
        ("following", 10, "INFO  " + _QP + "QuorumPeer@738] - FOLLOWING"),
        ("election", 10, "INFO  " + _QP + "Follower@63] - FOLLOWING - LEADER ELECTION TOOK - "
                         "{num}"),
    )),
    System("BGL", bgl_h, (
        ("parity", 300, "RAS KERNEL INFO instruction cache parity error corrected"),
        ("hummer", 150, "RAS KERNEL INFO {num} double-hummer alignment exceptions"),
        ("ce_sym", 150, "RAS KERNEL INFO CE sym {num}, at 0x{hex}, mask 0x{hex}"),
        ("core", 150, "RAS KERNEL INFO generating core.{num}"),
        ("tlb", 80, "RAS KERNEL FATAL data TLB error interrupt"),
        ("ddr_total", 100, "RAS KERNEL INFO total of {num} ddr error(s) detected and corrected"),
        ("ddr_rank", 50, "RAS KERNEL INFO {num} ddr error(s) detected and corrected on rank "
                         "{small}, symbol {num}, bit {small}"),
        ("storage", 40, "RAS KERNEL FATAL data storage interrupt"),
        ("iaddr", 30, "RAS KERNEL FATAL instruction address: 0x{hex}"),
        ("daddr", 30, "RAS KERNEL FATAL data address: 0x{hex}"),
        ("mcheck", 30, "RAS KERNEL FATAL machine check interrupt (bit=0x{hex}): L2 dcache unit "
                       "data parity error"),
        ("ciod", 30, "RAS APP FATAL ciod: failed to read message prefix on control stream "
                     "(CioStream socket to {ip}:{port}"),
        ("rts", 10, "RAS KERNEL FATAL rts: kernel terminated for reason {num}"),
        ("edram", 20, "RAS KERNEL INFO {small} L3 EDRAM error(s) (dcr 0x0157) detected and "
                      "corrected"),
        ("sparing", 5, "RAS LINKCARD INFO MidplaneSwitchController performing bit sparing on "
                       "{node}-L2 bit {num}"),
        ("assert", 5, "RAS MMCS ERROR idoproxydb hit ASSERT condition: ASSERT expression=0 "
                      "Source file=idotransportmgr.cpp Source line=1043 Function=int "
                      "IdoTransportMgr::SendPacket(IdoUdpMgr*, BglCtlPavTrace*)"),
    )),
    System("HPC", hpc_h, (
        ("unavailable", 200, "unix.hw state_change.unavailable {epoch} 1 Component State Change:"
                             " Component \\042alt{small}\\042 is in the unavailable state "
                             "(HWID={num})"),
        ("running", 300, "node status {epoch} 1 running"),
        ("configured_out", 100, "node status {epoch} 1 configured out"),
        ("boot_done", 150, "node boot {epoch} 1 Command has completed successfully"),
        ("net_avail", 100, "node state_change.available {epoch} 1 Node node-{num} has detected "
                           "an available network connection on network {ip} via interface "
                           "alt0"),
        ("link_err", 80, "gige link {epoch} 1 Link error on broadcast tree Interconnect-{num}T"
                         "{small}:{small}:{small}:{small}"),
        ("fs_full", 40, "switch_module error {epoch} 1 ServerFileSystem domain storage{small} "
                        "is full"),
        ("temp_warn", 40, "node temp {epoch} 1 Temperature ({num}C) exceeds warning threshold"),
        ("temp_crit", 20, "node temp {epoch} 1 Temperature ({num}C) exceeds critical threshold"),
        ("add_member", 60, "action start {epoch} 1 clusterAddMember (command {num})"),
        ("boot_genvm", 60, "action start {epoch} 1 bootGenvmunix (command {num})"),
        ("cancelled", 20, "action error {epoch} 1 boot (command {num}) Error: Command "
                          "cancelled"),
        ("psu", 30, "node psu {epoch} 1 PSU status ( {on|off} {on|off} )"),
        ("niff", 40, "unix.hw net.niff.up {epoch} 1 NIFF: node node-{num} detected a failed "
                     "network connection on network {ip} via interface alt0"),
    )),
    System("Thunderbird", tbird_h, (
        ("cron_closed", 300, "crond(pam_unix)[{pid}]: session closed for user {root|nobody}"),
        ("session_opened", 300, "crond(pam_unix)[{pid}]: session opened for user root by "
                                "(uid=0)"),
        ("session_opened", 50, "sshd(pam_unix)[{pid}]: session opened for user {user} by "
                               "(uid=0)"),
        ("cron_cmd", 150, "crond[{pid}]: (root) CMD (run-parts /etc/cron.hourly)"),
        ("sweep", 20, "kernel: [KERNEL_IB][ib_sm_sweep.c:1455]: ********************** NEW "
                      "SWEEP ********************"),
        ("ntp_sync", 100, "ntpd[{pid}]: synchronized to {ip}, stratum {small}"),
        ("accepted", 50, "sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} "
                         "ssh2"),
        ("pbs", 40, "pbs_mom: Bad file descriptor (9) in tm_request, job {num}.tbird-admin1 "
                    "not running"),
        ("discover", 80, "dhcpd: DHCPDISCOVER from {mac} via eth{small}"),
        ("request", 80, "dhcpd: DHCPREQUEST for {ip} ({ip}) from {mac} via eth{small}"),
        ("ack", 80, "dhcpd: DHCPACK on {ip} to {mac} via eth{small}"),
        ("offer", 80, "dhcpd: DHCPOFFER on {ip} to {mac} via eth{small}"),
        ("postdrop", 30, "postfix/postdrop[{pid}]: warning: unable to look up public/pickup: "
                         "No such file or directory"),
        ("link_up", 5, "kernel: e1000: eth{small}: e1000_watchdog: NIC Link is Up 1000 Mbps "
                       "Full Duplex"),
    )),
    System("Windows", windows_h, (
        ("stack", 30, _CBS + "Loaded Servicing Stack v6.1.7601.{num} with Core: C:\\Windows\\"
                      "winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_6.1.7601"
                      ".{num}_none_{hex}{hex}\\cbscore.dll"),
        ("wcp", 10, "Info                  CSI    {hex}@2016/9/27:20:30:31.455 WcpInitialize "
                    "(wcp.dll version 0.0.0.6) called (stack {stack})"),
        ("session", 200, _CBS + "Session: {num}_{num} initialized by client WindowsUpdateAgent."),
        ("applicability", 300, _CBS + "Read out cached package applicability for package: "
                               "Package_for_KB{num}~31bf3856ad364e35~amd64~~6.1.1.{small}, "
                               "ApplicableState: {num}, CurrentState:{num}"),
        ("sqm_init", 100, _CBS + "SQM: Initializing online with Windows opt-in: False"),
        ("sqm_clean", 100, _CBS + "SQM: Cleaning up report files older than {small} days."),
        ("sqm_upload", 100, _CBS + "SQM: Requesting upload of all unsent reports."),
        ("sqm_fail", 100, _CBS + "SQM: Failed to start upload with file pattern: C:\\Windows\\"
                          "servicing\\sqm\\*_std.sqm, flags: 0x2 [HRESULT = 0x80004005 - "
                          "E_FAIL]"),
        ("sqm_std", 100, _CBS + "SQM: Failed to start standard sample upload. [HRESULT = "
                         "0x80004005 - E_FAIL]"),
        ("sqm_queued", 50, _CBS + "SQM: Queued {small} file(s) for upload with pattern: C:\\"
                           "Windows\\servicing\\sqm\\*_all.sqm, flags: 0x6"),
        ("unrecognized", 100, _CBS + "Warning: Unrecognized packageExtended attribute."),
        ("expecting", 100, _CBS + "Expecting attribute name [HRESULT = 0x800f080d - "
                           "CBS_E_MANIFEST_INVALID_ITEM]"),
        ("next_elem", 100, _CBS + "Failed to get next element [HRESULT = 0x800f080d - "
                           "CBS_E_MANIFEST_INVALID_ITEM]"),
        ("ti_start", 20, _CBS + "Starting TrustedInstaller initialization."),
        ("ti_end", 20, _CBS + "Ending TrustedInstaller initialization."),
        ("main_loop", 20, _CBS + "Starting the TrustedInstaller main loop."),
        ("ti_ok", 20, _CBS + "TrustedInstaller service starts successfully."),
        ("open_pkg", 10, "Error                 CBS    Failed to internally open package. "
                         "[HRESULT = 0x800f0805 - CBS_E_INVALID_PACKAGE]"),
    )),
    System("Linux", linux_h, (
        ("auth_fail", 300, "sshd(pam_unix)[{pid}]: " + _AUTH + "NODEVssh ruser= rhost={rhost}"),
        ("auth_fail_user", 250, "sshd(pam_unix)[{pid}]: " + _AUTH + "NODEVssh ruser= "
                                "rhost={rhost}  user={user}"),
        ("check_pass", 200, "sshd(pam_unix)[{pid}]: check pass; user unknown"),
        ("su_open", 150, "su(pam_unix)[{pid}]: session opened for user {news|cyrus|root} by "
                         "(uid=0)"),
        ("su_close", 150, "su(pam_unix)[{pid}]: session closed for user {news|cyrus|root}"),
        ("ftp_conn", 150, "ftpd[{pid}]: connection from {ip} ({rhost}) at {Mon|Fri|Sat} "
                          "{Jun|Jul} {small} {ms} 2005"),
        ("klogd", 5, "kernel: klogd 1.4.1, log source = /proc/kmsg started."),
        ("syslogd", 5, "syslogd 1.4.1: restart."),
        ("logrotate", 10, "logrotate: ALERT exited abnormally with [1]"),
        ("cups_down", 5, "cups: cupsd shutdown succeeded"),
        ("cups_up", 5, "cups: cupsd startup succeeded"),
        ("xinetd", 40, "xinetd[{pid}]: START: {ftp|telnet} pid={pid} from={ip}"),
        ("gdm", 10, "gdm(pam_unix)[{pid}]: " + _AUTH + ":0 ruser= rhost=  user={user}"),
        ("hcid", 3, "hcid[{pid}]: HCI daemon ver 2.4 started"),
        ("snmp", 20, "snmpd[{pid}]: Received SNMP packet(s) from {ip}"),
    )),
    System("Android", android_h, (
        ("freezing", 50, "D WindowManager: printFreezingDisplayLogsopening app wtoken = "
                         "AppWindowToken{{{hex} token=Token{{{hex} ActivityRecord{{{hex} u0 "
                         "{pkg}/.{word}Activity t{num}}}}}}}, allDrawn= {true|false}, "
                         "startingDisplayed =  {true|false}, startingMoved =  {true|false}, "
                         "isRelaunching =  {true|false}"),
        ("acquire", 200, "V PowerManagerService: acquire lock={num}, flags=0x1, tag=\"View "
                         "Lock\", name={pkg}, ws=null, uid={num}, pid={pid}"),
        ("release", 200, "V PowerManagerService: release lock={num}, flags=0x1, tag=\"View "
                         "Lock\", name={pkg}, ws=null, uid={num}, pid={pid}"),
        ("user_activity", 150, "D PowerManagerService: userActivityNoUpdateLocked: eventTime="
                               "{num}, event={small}, flags=0x0, uid={num}"),
        ("brightness", 100, "D DisplayPowerController: Animating brightness: target={num}, "
                            "rate={num}"),
        ("start_proc", 50, "I ActivityManager: Start proc {num}:{pkg}/u0a{num} for service "
                           "{pkg}/.{word}Service"),
        ("cap_changed", 40, "D ConnectivityService: notifyType CAP_CHANGED for "
                            "NetworkAgentInfo [WIFI () - {num}]"),
        ("fatal", 3, "E AndroidRuntime: FATAL EXCEPTION: main"),
        ("npe", 5, "W System.err: java.lang.NullPointerException: Attempt to invoke virtual "
                   "method on a null object reference"),
        ("relayout", 100, "V WindowManager: Relayout Window{{{hex} u0 {pkg}}}: viewVisibility="
                          "{small} req={num}x{num}"),
        ("skipping", 50, "D WindowManager: Skipping AppWindowToken{{{hex} token=Token{{{hex} "
                         "ActivityRecord{{{hex} u0 {pkg}/.{word} t{num}}}}}}} -- going to hide"),
        ("chatty", 30, "I chatty  : uid={num}({pkg}) expire {num} lines"),
        ("keyguard", 20, "D KeyguardUpdateMonitor: sendKeyguardVisibilityChanged({true|false})"),
    )),
    System("HealthApp", health_h, (
        ("stand", 300, "Step_LSC|{pid}|onStandStepChanged {num}"),
        ("extend", 150, "Step_LSC|{pid}|onExtend:{num} {small} {small} {small}"),
        ("screen_on", 100, "Step_StandReportReceiver|{pid}|onReceive action: android.intent."
                           "action.SCREEN_ON"),
        ("screen_off", 100, "Step_StandReportReceiver|{pid}|onReceive action: android.intent."
                            "action.SCREEN_OFF"),
        ("set_total", 150, "Step_SPUtils|{pid}|setTodayTotalDetailSteps={num}##{num}##{num}##"
                           "{num}##{num}##{num}"),
        ("get_total", 100, "Step_SPUtils|{pid}| getTodayTotalDetailSteps = {num}##{num}##{num}"
                           "##{num}##{num}##{num}"),
        ("flush", 80, "Step_StandStepCounter|{pid}|flush sensor data"),
        ("flush2db", 80, "Step_StandStepCounter|{pid}|flush2DB result success"),
        ("report", 80, "Step_LSC|{pid}|REPORT : {num} {num} {num} {secs}"),
        ("calories", 80, "Step_ExtSDM|{pid}|calculateCaloriesWithCache totalCalories={num}"),
        ("altitude", 80, "Step_ExtSDM|{pid}|calculateAltitudeWithCache totalAltitude={num}"),
        ("goal", 40, "Step_LSC|{pid}|setGoalNotifiShownRecord {num} false"),
        ("sync", 20, "HiH_HiSyncControl|{pid}|startSync hiSyncOption = HiSyncOption{{"
                     "syncAction={small}, syncMethod={small}, syncScope={small}, syncDataType="
                     "{num}, syncModel={small}, pushAction={small}}},app = {small} who = "
                     "{small}"),
        ("insert", 20, "HiH_HiHealthDataInsertStore|{pid}|saveHealthDetailData() deviceID = "
                       "{small},clientID={small},id={num}"),
    )),
    System("Apache", apache_h, (
        ("init_ok", 150, "[notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties"),
        ("error_state", 150, "[error] mod_jk child workerEnv in error state {small}"),
        ("found_child", 300, "[notice] jk2_init() Found child {num} in scoreboard slot {small}"),
        ("forbidden", 80, "[error] [client {ip}] Directory index forbidden by rule: "
                          "/var/www/html/"),
        ("cant_find", 60, "[error] jk2_init() Can't find child {num} in scoreboard"),
        ("child_init", 30, "[error] mod_jk child init {small} -{small}"),
    )),
    System("OpenSSH", ssh_h, (
        ("failed", 300, "Failed password for {user} from {ip} port {port} ssh2"),
        ("failed_invalid", 200, "Failed password for invalid user {user} from {ip} port {port} "
                                "ssh2"),
        ("invalid", 200, "Invalid user {user} from {ip}"),
        ("userauth", 200, "input_userauth_request: invalid user {user} [preauth]"),
        ("check_pass", 150, "pam_unix(sshd:auth): check pass; user unknown"),
        ("auth_fail", 150, "pam_unix(sshd:auth): " + _AUTH + "ssh ruser= rhost={rhost}"),
        ("auth_fail_user", 150, "pam_unix(sshd:auth): " + _AUTH + "ssh ruser= rhost={rhost}  "
                                "user={user}"),
        ("bye", 150, "Received disconnect from {ip}: 11: Bye Bye [preauth]"),
        ("closed", 80, "Connection closed by {ip} [preauth]"),
        ("reverse", 80, "reverse mapping checking getaddrinfo for {rhost} [{ip}] failed - "
                        "POSSIBLE BREAK-IN ATTEMPT!"),
        ("accepted", 10, "Accepted password for {user} from {ip} port {port} ssh2"),
        ("pam_more", 30, "PAM {small} more authentication failures; logname= uid=0 euid=0 "
                         "tty=ssh ruser= rhost={rhost}  user={user}"),
        ("repeated", 20, "message repeated {small} times: [ Failed password for {user} from "
                         "{ip} port {port} ssh2]"),
        ("too_many", 20, "Disconnecting: Too many authentication failures for {user} "
                         "[preauth]"),
        ("no_ident", 20, "Did not receive identification string from {ip}"),
        ("opened", 5, "pam_unix(sshd:session): session opened for user {user} by (uid=0)"),
        ("closed_s", 5, "pam_unix(sshd:session): session closed for user {user}"),
    )),
    System("OpenStack", openstack_h, (
        ("get", 500, _WSGI + "GET /v2/{hex32}/servers/detail HTTP/1.1\" status: 200 len: {num} "
                     "time: {secs}"),
        ("post", 100, _WSGI + "POST /v2/{hex32}/os-server-external-events HTTP/1.1\" status: 200"
                      " len: {num} time: {secs}"),
        ("delete", 50, _WSGI + "DELETE /v2/{hex32}/servers/{uuid} HTTP/1.1\" status: 204 len: "
                       "{num} time: {secs}"),
        ("vm_started", 60, "INFO nova.compute.manager " + _REQ + " " + _INST + " VM Started "
                           "(Lifecycle Event)"),
        ("vm_stopped", 50, "INFO nova.compute.manager " + _REQ + " " + _INST + " VM Stopped "
                           "(Lifecycle Event)"),
        ("vm_paused", 30, "INFO nova.compute.manager " + _REQ + " " + _INST + " VM Paused "
                          "(Lifecycle Event)"),
        ("pending", 50, "INFO nova.compute.manager " + _REQ + " " + _INST + " During "
                        "sync_power_state the instance has a pending task (spawning). Skip."),
        ("checking", 80, "INFO nova.virt.libvirt.imagecache " + _REQ + " image {uuid} at "
                         "({path}): checking"),
        ("in_use", 80, "INFO nova.virt.libvirt.imagecache " + _REQ + " image {uuid} at ({path})"
                       ": in use: on this node {small} local, {small} on other nodes sharing "
                       "this instance storage"),
        ("final_view", 60, _RT + " Final resource view: name=cp-1.slowvm1.tcloud-pg0.utah."
                           "cloudlab.us phys_ram={num}MB used_ram={num}MB phys_disk={num}GB "
                           "used_disk={num}GB total_vcpus={small} used_vcpus={small} "
                           "pci_stats=[]"),
        ("auditing", 60, _RT + " Auditing locally available compute resources for node "
                         "cp-1.slowvm1.tcloud-pg0.utah.cloudlab.us"),
        ("claim", 30, "INFO nova.compute.claims " + _REQU + " " + _INST + " Attempting claim: "
                      "memory {num} MB, disk {small} GB, vcpus {small} CPU"),
        ("creating", 30, "INFO nova.virt.libvirt.driver " + _REQU + " " + _INST + " Creating "
                         "image"),
        ("spawn", 30, "INFO nova.compute.manager " + _REQU + " " + _INST + " Took {secs} "
                      "seconds to spawn the instance on the hypervisor."),
        ("build", 30, "INFO nova.compute.manager " + _REQU + " " + _INST + " Took {secs} "
                      "seconds to build instance."),
        ("terminating", 30, "INFO nova.compute.manager " + _REQU + " " + _INST + " Terminating "
                            "instance"),
        ("sync_warn", 10, "WARNING nova.compute.manager " + _REQ + " While synchronizing "
                          "instance power states, found {small} instances in the database and "
                          "{small} instances on the hypervisor."),
    )),
    System("Proxifier", proxifier_h, (
        ("https", 500, "{host}:{443|80|5070} open through proxy proxy.cse.cuhk.edu.hk:5070 "
                       "HTTPS"),
        ("socks", 100, "{host}:{443|80} open through proxy proxy.cse.cuhk.edu.hk:5070 SOCKS5"),
        ("close", 250, "{host}:{443|80} close, {num} bytes sent, {num} bytes received, "
                       "lifetime {small}{small}:{small}{small}"),
        ("close", 150, "{host}:{443|80} close, {num} bytes ({secs} KB) sent, {num} bytes "
                       "({secs} KB) received, lifetime <1 sec"),
        ("close", 100, "{host}:{443|80} close, {num} bytes sent, {num} bytes ({secs} KB) "
                       "received, lifetime {small}{small}:{small}{small}"),
        ("resolve", 40, "{host}:{443|80} error : Could not connect to proxy proxy.cse.cuhk.edu."
                        "hk:5070 - Could not resolve proxy.cse.cuhk.edu.hk error {num}"),
        ("attempt", 40, "{host}:{443|80} error : Could not connect to proxy proxy.cse.cuhk.edu."
                        "hk:5070 - connection attempt failed with error {num}"),
        ("canceled", 20, "{host}:{443|80} error : A connection request was canceled before the "
                         "completion."),
    )),
    System("Mac", mac_h, (
        ("hpd", 100, "kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt "
                     "HPD packet for route = 0x0 port = {small} unplug = {small}"),
        ("tcpkeep", 150, "kernel[0]: ARPT: {num}.{num}: wl0: wl_update_tcpkeep_seq: Original "
                         "Seq: {num}, Ack: {num}, Win size: {num}"),
        ("mdns", 50, "kernel[0]: ARPT: {num}.{num}: wl0: MDNS: IPV4 Addr: {ip}"),
        ("link_up", 40, "kernel[0]: AirPort: Link Up on awdl0"),
        ("link_down", 40, "kernel[0]: AirPort: Link Down on awdl0"),
        ("thermal", 100, "com.apple.CDScheduler[{pid}]: Thermal pressure state: {small} Memory "
                         "pressure state: {small}"),
        ("qq_dealloc", 80, "QQ[{pid}]: FA||Url||taskID[{num}] dealloc"),
        ("wake_arpt", 50, "kernel[0]: Wake reason: ARPT (Network)"),
        ("wake_rtc", 50, "kernel[0]: Wake reason: RTC (Alarm)"),
        ("symptoms", 50, "symptomsd[{pid}]: __73-[NetworkAnalyticsEngine observeValueForKeyPath"
                         ":ofObject:change:context:]_block_invoke unexpected switch value {small}"),
        ("cts", 40, "com.apple.cts[{pid}]: com.apple.suggestions.harvest: scheduler_evaluate_"
                    "activity told me to run this job; however, but the start time isn't for "
                    "{num} seconds.  Ignoring."),
        ("libnotify", 40, "Google Chrome Helper[{pid}]: Libnotify: notify_register_coalesced_"
                          "registration failed with code 9 on line 2834"),
        ("bssid", 30, "kernel[0]: en0: BSSID changed to {mac}"),
        ("sandbox", 20, "kernel[0]: Sandbox: com.apple.Addres({pid}) deny(1) network-outbound "
                        "/private/var/run/mDNSResponder"),
        ("ping", 20, "WindowServer[{pid}]: send_datagram_available_ping: pid {pid} failed to act"
                     " on a ping it dequeued before timing out."),
    )),
)


def klog_h(r: random.Random, v: Vars, c: int) -> str:
    t = _t(c)
    return (f"{r.choice('IIIWE')}{time.strftime('%m%d %H:%M:%S', t)}.{r.randint(0, 999999):06d}"
            f" {r.randint(1, 99999):7d} ")


def python_h(r: random.Random, v: Vars, c: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S,", _t(c)) + _ms(r) + " - "


def logback_h(r: random.Random, v: Vars, c: int) -> str:
    thread = r.choice(("http-nio-8080-exec-", "pool-1-thread-", "main"))
    return time.strftime("%Y-%m-%d %H:%M:%S.", _t(c)) + _ms(r) + f" [{thread}{r.randint(1, 20)}] "


# Formats NOT used while tuning the miner (Kubernetes klog, Python logging, Java logback): a check
# that the header rules are not fitted to the 16 systems above.
HELD_OUT_SYSTEMS = (
    System("klog", klog_h, (
        ("reconcile", 300, "reconciler.go:{num}] \"operationExecutor.MountVolume started for "
                           "volume\" volumeName=\"kubernetes.io/secret/{uuid}-token\" pod=\"{word}"
                           "-{hex}\""),
        ("probe", 200, "prober.go:{num}] \"Probe failed\" probeType=\"{Readiness|Liveness}\" "
                       "pod=\"default/{word}-{hex}\" containerName=\"{word}\""),
        ("sync", 150, "kubelet.go:{num}] \"SyncLoop (PLEG): event for pod\" pod=\"default/{word}\""
                      " event={{ID:{uuid} Type:ContainerStarted}}"),
        ("evict", 20, "eviction_manager.go:{num}] \"Eviction manager: attempting to reclaim\" "
                      "resourceName=\"{memory|ephemeral-storage}\""),
        ("image", 60, "kuberuntime_image.go:{num}] \"Pulling image\" image=\"registry.local/"
                      "{word}:v{small}.{small}\""),
    )),
    System("python", python_h, (
        ("request", 300, "app.http - INFO - {GET|POST} /api/v1/{word}/{num} -> 200 in {ms}"),
        ("retry", 100, "app.client - WARNING - retrying {host} after {secs}s (attempt {small}/5)"),
        ("db_slow", 80, "app.db - WARNING - slow query took {ms}: SELECT * FROM {word} WHERE id ="
                        " {num}"),
        ("login", 150, "app.auth - INFO - user {user} logged in from {ip}"),
        ("logout", 100, "app.auth - INFO - user {user} logged out"),
        ("crash", 10, "app.worker - ERROR - job {uuid} failed: KeyError: '{word}'"),
    )),
    System("logback", logback_h, (
        ("req", 300, "INFO  c.e.shop.web.RequestLogger - {GET|POST|PUT} /orders/{num} status={num}"
                     " took={ms}"),
        ("cache", 150, "DEBUG c.e.shop.cache.CacheService - cache miss for key order:{num}"),
        ("pool", 30, "WARN  com.zaxxer.hikari.pool.HikariPool - HikariPool-1 - Connection is not "
                     "available, request timed out after {num}ms."),
        ("paid", 120, "INFO  c.e.shop.pay.PaymentService - payment {uuid} captured amount={secs} "
                      "currency={EUR|USD|GBP}"),
        ("refund", 40, "INFO  c.e.shop.pay.PaymentService - payment {uuid} refunded amount={secs} "
                       "currency={EUR|USD|GBP}"),
    )),
)
