"""What the Tugas 2 rubric says: task names, and for every reason code the fact and the fix, in
English and Indonesian. Facts are filled in by reporter.assignments.wording.say.

T2 judges two things at once (QUIT, and an unknown request), so its codes are
``t2_quit_<state>__unknown_<state>`` and their sentences are the two halves put together."""
from __future__ import annotations

from reporter.assignments.wording import Say, Wording

TITLE = Say("Tugas 2: a multithreaded time server", "Tugas 2: server waktu multithread")

TASK_NAMES = {
    "T1": Say("TIME answered with JAM hh:mm:ss on port {port}", "TIME dijawab dengan JAM hh:mm:ss pada port {port}"),
    "T2": Say("QUIT ends the session; unknown requests are answered",
              "QUIT mengakhiri sesi; permintaan tak dikenal tetap dijawab"),
    "T3": Say("Requests cut across segments (telnet)", "Permintaan yang terpotong antarsegmen (telnet)"),
    "T4": Say("Two clients at once", "Dua klien sekaligus"),
}

_CONN = Say("Client #{client_no} ({client} → {server}, tcp.stream {conn}): ",
            "Klien #{client_no} ({client} → {server}, tcp.stream {conn}): ")


def _conn(en: str, id_: str) -> Say:
    return Say(_CONN.en + en, _CONN.id + id_)


_FIX_REPLY = Say(
    "Answer every TIME with one line: JAM, a space, the current time as hh:mm:ss (time.strftime('%H:%M:%S')) "
    "and CRLF (\\r\\n), sent with sendall().",
    "Jawab setiap TIME dengan satu baris: JAM, spasi, waktu saat itu dalam format hh:mm:ss "
    "(time.strftime('%H:%M:%S')) dan CRLF (\\r\\n), dikirim dengan sendall().")
_FIX_BUFFER = Say(
    "Keep appending what recv() returns to a buffer and handle a request only when its line is complete (it ends "
    "with \\r\\n): telnet may send every key in its own segment.",
    "Tampung terus hasil recv() dalam sebuah buffer dan proses permintaan hanya ketika barisnya sudah lengkap "
    "(diakhiri \\r\\n): telnet dapat mengirim setiap tombol dalam segmen tersendiri.")

WORDING: dict[str, Wording] = {
    # T1
    "t1_no_connection": Wording(
        Say("No connection to a time server in the capture (port {port}, or a time server recognised by its "
            "messages on another port).",
            "Tidak ada koneksi ke server waktu dalam rekaman (port {port}, atau server waktu yang dikenali dari "
            "pesannya pada port lain)."),
        Say("Start the time server on port {port}, connect a client (e.g. telnet 172.16.16.101 {port}) while "
            "capturing on the server's interface, and type TIME.",
            "Jalankan server waktu pada port {port}, hubungkan klien (misalnya telnet 172.16.16.101 {port}) selama "
            "perekaman berlangsung pada antarmuka server, lalu ketik TIME.")),
    "t1_no_time_request": Wording(
        Say("{n} connection(s) to the time server, but no client sent TIME (requests seen: {sent}).",
            "Ada {n} koneksi ke server waktu, tetapi tidak ada klien yang mengirim TIME (permintaan yang terlihat: "
            "{sent})."),
        Say("Send the line TIME (capital letters) followed by Enter, so the client sends TIME\\r\\n.",
            "Kirim baris TIME (huruf kapital) lalu tekan Enter, sehingga klien mengirim TIME\\r\\n.")),
    "t1_unanswered": Wording(
        _conn("TIME was sent (frame {frame}) but the server never replied.",
              "TIME dikirim (frame {frame}), tetapi server tidak pernah membalas."), _FIX_REPLY),
    "t1_not_jam": Wording(
        _conn("TIME (frame {frame}) was answered with “{reply}” (frame {reply_frame}), not JAM hh:mm:ss.",
              "TIME (frame {frame}) dijawab dengan “{reply}” (frame {reply_frame}), bukan JAM hh:mm:ss."), _FIX_REPLY),
    "t1_bad_format": Wording(
        _conn("TIME (frame {frame}) was answered with “{reply}” (frame {reply_frame}): the value after JAM is not a "
              "time hh:mm:ss.",
              "TIME (frame {frame}) dijawab dengan “{reply}” (frame {reply_frame}): nilai setelah JAM bukan waktu "
              "berformat hh:mm:ss."), _FIX_REPLY),
    "t1_lecturer_format": Wording(
        _conn("TIME (frame {frame}) was answered with “{reply}” (frame {reply_frame}): the lecturer's format "
              "dd-mm-YYYY HH:MM:SS, which differs from the assignment's JAM hh:mm:ss; the clock is right (UTC{offset}).",
              "TIME (frame {frame}) dijawab dengan “{reply}” (frame {reply_frame}): format server dosen "
              "dd-mm-YYYY HH:MM:SS, yang berbeda dari format tugas JAM hh:mm:ss; jamnya sudah tepat (UTC{offset})."),
        Say("The assignment asks for JAM hh:mm:ss: format the time with time.strftime('%H:%M:%S') instead of "
            "'%d-%m-%Y %H:%M:%S'.",
            "Tugas meminta JAM hh:mm:ss: format waktunya dengan time.strftime('%H:%M:%S'), bukan "
            "'%d-%m-%Y %H:%M:%S'.")),
    "t1_lecturer_format_clock_off": Wording(
        _conn("TIME (frame {frame}) was answered with “{reply}” (frame {reply_frame}): the lecturer's format "
              "dd-mm-YYYY HH:MM:SS, not the assignment's JAM hh:mm:ss, and at that moment the capture's clock read "
              "{utc} UTC: no whole- or half-hour time zone is within 2 s (nearest UTC{nearest}, {diff:,.0f} s off).",
              "TIME (frame {frame}) dijawab dengan “{reply}” (frame {reply_frame}): format server dosen "
              "dd-mm-YYYY HH:MM:SS, bukan format tugas JAM hh:mm:ss, dan saat itu jam rekaman menunjukkan {utc} UTC: "
              "tidak ada zona waktu jam penuh atau setengah jam yang selisihnya 2 detik atau kurang (terdekat "
              "UTC{nearest}, selisih {diff:,.0f} detik)."),
        Say("Reply with JAM and time.strftime('%H:%M:%S') of the moment the request arrives, and check the server "
            "machine's clock.",
            "Balas dengan JAM dan time.strftime('%H:%M:%S') pada saat permintaan tiba, dan periksa jam pada mesin "
            "server.")),
    "t1_other_format": Wording(
        _conn("TIME (frame {frame}) was answered with “{reply}” (frame {reply_frame}): a time, but not in the "
              "assignment's format JAM hh:mm:ss.",
              "TIME (frame {frame}) dijawab dengan “{reply}” (frame {reply_frame}): berisi waktu, tetapi tidak "
              "dalam format tugas JAM hh:mm:ss."),
        Say("Format the time with time.strftime('%H:%M:%S'): two digits each for hours (00-23), minutes and "
            "seconds, separated by colons.",
            "Format waktunya dengan time.strftime('%H:%M:%S'): masing-masing dua digit untuk jam (00-23), menit, "
            "dan detik, dipisahkan titik dua.")),
    "t1_clock_off": Wording(
        _conn("TIME (frame {frame}) was answered with “{reply}” (frame {reply_frame}), but at that moment the "
              "capture's clock read {utc} UTC: no whole- or half-hour time zone is within 2 s (nearest UTC{nearest}, "
              "{diff:,.0f} s off).",
              "TIME (frame {frame}) dijawab dengan “{reply}” (frame {reply_frame}), tetapi saat itu jam rekaman "
              "menunjukkan {utc} UTC: tidak ada zona waktu jam penuh atau setengah jam yang selisihnya 2 detik atau "
              "kurang (terdekat UTC{nearest}, selisih {diff:,.0f} detik)."),
        Say("Send the time of the moment the request arrives (call time.strftime('%H:%M:%S') for every TIME, not "
            "once at start-up), and check the server machine's clock.",
            "Kirim waktu pada saat permintaan tiba (panggil time.strftime('%H:%M:%S') untuk setiap TIME, bukan "
            "sekali saat server dimulai), dan periksa jam pada mesin server.")),
    "t1_bare_lf": Wording(
        _conn("TIME (frame {frame}) was answered with “{reply}” (frame {reply_frame}) and the clock is right "
              "(UTC{offset}), but the reply ends with a bare LF (\\n) instead of CRLF (\\r\\n).",
              "TIME (frame {frame}) dijawab dengan “{reply}” (frame {reply_frame}) dan jamnya tepat (UTC{offset}), "
              "tetapi balasannya diakhiri LF (\\n) saja, bukan CRLF (\\r\\n)."),
        Say("End the reply with \\r\\n, as the assignment's protocol says.",
            "Akhiri balasan dengan \\r\\n, sesuai protokol pada tugas.")),
    "t1_ok": Wording(
        _conn("TIME (frame {frame}) was answered with “{reply}” (frame {reply_frame}) after {latency:,.1f} ms; the "
              "clock is right (UTC{offset}).",
              "TIME (frame {frame}) dijawab dengan “{reply}” (frame {reply_frame}) setelah {latency:,.1f} ms; jamnya "
              "tepat (UTC{offset}).")),
    # T3
    "t3_no_split": Wording(
        Say("No request arrived in more than one segment: every request was sent in one piece.",
            "Tidak ada permintaan yang tiba dalam lebih dari satu segmen: setiap permintaan dikirim utuh sekaligus."),
        Say("Test with telnet in character mode (or send a request a few bytes at a time), so that a request is cut "
            "across segments.",
            "Uji dengan telnet dalam mode karakter (atau kirim permintaan beberapa byte sekaligus), agar ada "
            "permintaan yang terpotong antarsegmen.")),
    "t3_premature": Wording(
        _conn("the server replied “{reply}” (frame {reply_frame}) before the request “{request}” was complete "
              "(frames {first}–{last}): it treats each recv() as a whole request.",
              "server membalas “{reply}” (frame {reply_frame}) sebelum permintaan “{request}” lengkap "
              "(frame {first}–{last}): server menganggap setiap recv() sebagai satu permintaan utuh."), _FIX_BUFFER),
    "t3_unanswered": Wording(
        _conn("the request “{request}” arrived cut across segments (frames {first}–{last}) and was never answered.",
              "permintaan “{request}” tiba terpotong antarsegmen (frame {first}–{last}) dan tidak pernah dijawab."),
        _FIX_BUFFER),
    "t3_several": Wording(
        _conn("the request “{request}” (frames {first}–{last}) was answered {answers} times.",
              "permintaan “{request}” (frame {first}–{last}) dijawab {answers} kali."),
        Say("Answer a request once, when its whole line has arrived.",
            "Jawab setiap permintaan satu kali saja, ketika seluruh barisnya sudah tiba.")),
    "t3_ok": Wording(
        _conn("{n} request(s) arrived cut across segments (e.g. “{request}” in frames {first}–{last}) and each was "
              "answered once, after it was complete (frame {reply_frame}).",
              "{n} permintaan tiba terpotong antarsegmen (misalnya “{request}” pada frame {first}–{last}) dan "
              "masing-masing dijawab satu kali setelah lengkap (frame {reply_frame}).")),
    # T4 (reporter.assignments.overlap)
    "t4_no_overlap": Wording(
        Say("No two connections to the time server overlap in time.",
            "Tidak ada dua koneksi ke server waktu yang waktunya tumpang-tindih."),
        Say("Connect from mesin-2 and mesin-3 at the same time (e.g. telnet in two terminals), keep both connected, "
            "and send TIME from each.",
            "Hubungkan klien dari mesin-2 dan mesin-3 pada saat yang sama (misalnya telnet di dua terminal), biarkan "
            "keduanya tetap terhubung, lalu kirim TIME dari masing-masing.")),
    "t4_serial": Wording(
        Say("{n} connections to {server} from {hosts_n} hosts overlapped; client #{later} ({later_ip}) waited "
            "{wait:.1f} s and got its first reply only after client #{earlier} closed: the server serves one client "
            "at a time.",
            "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih; klien #{later} ({later_ip}) "
            "menunggu {wait:.1f} detik dan baru menerima balasan pertama setelah klien #{earlier} menutup koneksi: "
            "server hanya melayani satu klien dalam satu waktu."),
        Say("Serve each client in its own thread (threading.Thread per accepted connection), so that one client "
            "does not wait for another to quit.",
            "Layani setiap klien dalam thread tersendiri (satu threading.Thread untuk setiap koneksi yang diterima), "
            "agar klien yang satu tidak perlu menunggu klien lain keluar.")),
    "t4_concurrent": Wording(Say(
        "{n} connections to {server} from {hosts_n} hosts overlapped and each client was answered while another was "
        "connected: the server serves clients concurrently.",
        "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih dan setiap klien dijawab ketika "
        "klien lain masih terhubung: server melayani klien secara bersamaan.")),
    "t4_same_host": Wording(
        Say("{n} connections to {server} overlapped and were answered, but all came from one host ({host}).",
            "{n} koneksi ke {server} berlangsung tumpang-tindih dan dijawab, tetapi semuanya berasal dari satu host "
            "({host})."),
        Say("Run the second client on the other client machine (mesin-2 and mesin-3), not twice on one.",
            "Jalankan klien kedua di mesin klien yang lain (mesin-2 dan mesin-3), bukan dua kali di satu mesin.")),
    "t4_not_all_echoed": Wording(
        Say("{n} connections to {server} from {hosts_n} hosts overlapped, but client(s) {unanswered} got no reply.",
            "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih, tetapi klien {unanswered} tidak "
            "menerima balasan."),
        Say("Send TIME from every client and keep capturing until each has its reply.",
            "Kirim TIME dari setiap klien dan teruskan perekaman sampai masing-masing menerima balasannya.")),
    "t4_same_host_not_all_echoed": Wording(
        Say("{n} connections to {server} overlapped, all from one host ({host}), and client(s) {unanswered} got no "
            "reply.",
            "{n} koneksi ke {server} berlangsung tumpang-tindih, semuanya dari satu host ({host}), dan klien "
            "{unanswered} tidak menerima balasan."),
        Say("Connect from mesin-2 and mesin-3, send TIME from both and keep capturing until both have their reply.",
            "Hubungkan klien dari mesin-2 dan mesin-3, kirim TIME dari keduanya, dan teruskan perekaman sampai "
            "keduanya menerima balasan.")),
}

# T2: QUIT x unknown request -------------------------------------------------------------------

_QUIT = {
    "closed": (Say("QUIT (frame {quit_frame}, connection {quit_conn}) ended the session: the server closed the "
                   "connection first (FIN).",
                   "QUIT (frame {quit_frame}, koneksi {quit_conn}) mengakhiri sesi: server menutup koneksi lebih "
                   "dulu (FIN)."), None),
    "reset": (Say("After QUIT (frame {quit_frame}, connection {quit_conn}) the server ended the connection with a "
                  "reset (RST) instead of a FIN.",
                  "Setelah QUIT (frame {quit_frame}, koneksi {quit_conn}) server mengakhiri koneksi dengan reset (RST), "
                  "bukan FIN."),
              Say("After QUIT, read the rest of the line and close() the socket: unread data makes the kernel send "
                  "RST.",
                  "Setelah QUIT, baca sisa barisnya lalu close() soketnya: data yang belum dibaca membuat kernel "
                  "mengirim RST.")),
    "answered_after": (Say("After QUIT (frame {quit_frame}, connection {quit_conn}) the server still answered "
                           "“{after}” (frame {after_frame}): QUIT did not end the session.",
                           "Setelah QUIT (frame {quit_frame}, koneksi {quit_conn}) server masih menjawab “{after}” "
                           "(frame {after_frame}): QUIT tidak mengakhiri sesi."),
                       Say("Leave the client's loop as soon as the request is QUIT and close the socket.",
                           "Keluar dari perulangan klien begitu permintaannya QUIT, lalu tutup soketnya.")),
    "client_closed": (Say("After QUIT (frame {quit_frame}, connection {quit_conn}) the server did not close the "
                          "connection; the client closed it.",
                          "Setelah QUIT (frame {quit_frame}, koneksi {quit_conn}) server tidak menutup koneksi; "
                          "kliennya yang menutup."),
                      Say("When the request is QUIT, leave the client's loop and close() the socket: the server's "
                          "FIN must end the session.",
                          "Bila permintaannya QUIT, keluar dari perulangan klien dan panggil close() pada soketnya: "
                          "FIN dari server yang harus mengakhiri sesi.")),
    "open": (Say("After QUIT (frame {quit_frame}, connection {quit_conn}) the connection stayed open until the end "
                 "of the capture.",
                 "Setelah QUIT (frame {quit_frame}, koneksi {quit_conn}) koneksi tetap terbuka sampai rekaman "
                 "berakhir."),
             Say("When the request is QUIT, close() the socket; stop the capture only after the connection has "
                 "closed.",
                 "Bila permintaannya QUIT, panggil close() pada soketnya; hentikan perekaman setelah koneksi "
                 "tertutup.")),
    "none": (Say("No client sent QUIT.", "Tidak ada klien yang mengirim QUIT."),
             Say("Also type QUIT and Enter: the server must then close the connection.",
                 "Ketik juga QUIT lalu Enter: server kemudian harus menutup koneksi.")),
}
_UNKNOWN = {
    "answered": (Say("The unknown request “{unknown}” (frame {unknown_frame}) was answered with “{reply}” "
                     "(frame {reply_frame}).",
                     "Permintaan tak dikenal “{unknown}” (frame {unknown_frame}) dijawab dengan “{reply}” "
                     "(frame {reply_frame})."), None),
    "silent": (Say("The unknown request “{unknown}” (frame {unknown_frame}) got no answer.",
                   "Permintaan tak dikenal “{unknown}” (frame {unknown_frame}) tidak dijawab."),
               Say("Answer every request that is neither TIME nor QUIT (e.g. with ERROR and CRLF) instead of "
                   "ignoring it.",
                   "Jawab setiap permintaan yang bukan TIME maupun QUIT (misalnya dengan ERROR dan CRLF), jangan "
                   "diabaikan.")),
    "closed": (Say("After the unknown request “{unknown}” (frame {unknown_frame}) the server closed the connection "
                   "without answering (did it crash?).",
                   "Setelah permintaan tak dikenal “{unknown}” (frame {unknown_frame}) server menutup koneksi tanpa "
                   "menjawab (apakah server berhenti karena galat?)."),
               Say("Do not close (or crash) on an unknown request: answer it (e.g. ERROR) and keep serving the client.",
                   "Jangan menutup koneksi (atau berhenti karena galat) pada permintaan tak dikenal: jawab "
                   "(misalnya ERROR) dan teruskan melayani klien.")),
    "none": (Say("No unknown request was sent.", "Tidak ada permintaan tak dikenal yang dikirim."),
             Say("Also send a request that is neither TIME nor QUIT (e.g. HELLO) and show that the server answers it.",
                 "Kirim juga permintaan yang bukan TIME maupun QUIT (misalnya HELLO) dan tunjukkan bahwa server "
                 "menjawabnya.")),
}
QUIT_STATES = tuple(_QUIT)
UNKNOWN_STATES = tuple(_UNKNOWN)


def t2_code(quit: str, unknown: str) -> str:
    return f"t2_quit_{quit}__unknown_{unknown}"


def _join(*parts: Say | None) -> Say | None:
    shown = [p for p in parts if p is not None]
    if not shown:
        return None
    return Say(" ".join(p.en for p in shown), " ".join(p.id for p in shown))


for _q, (_qr, _qf) in _QUIT.items():
    for _u, (_ur, _uf) in _UNKNOWN.items():
        WORDING[t2_code(_q, _u)] = Wording(_join(_qr, _ur), _join(_qf, _uf))  # type: ignore[arg-type]
