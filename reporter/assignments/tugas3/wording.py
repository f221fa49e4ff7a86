"""What the Tugas 3 rubric says: task names, and for every reason code the fact and the fix, in
English and Indonesian. Facts are filled in by reporter.assignments.wording.say.

Codes shared by several tasks (`<task>_unanswered`, `_bad_reply`, `_error`) are built by one
helper per shape, so T1..T4 say a missing or unreadable reply the same way."""
from __future__ import annotations

from reporter.assignments.wording import Say, Wording

TITLE = Say("Tugas 3: a multithreaded file server (LIST, GET, UPLOAD, DELETE)",
            "Tugas 3: server berkas multithread (LIST, GET, UPLOAD, DELETE)")

TASK_NAMES = {
    "T1": Say("LIST answered OK on port {port}", "LIST dijawab OK pada port {port}"),
    "T2": Say("GET returns a file that decodes", "GET mengembalikan berkas yang dapat didekode"),
    "T3": Say("UPLOAD stores a file that a later LIST shows",
              "UPLOAD menyimpan berkas yang muncul pada LIST berikutnya"),
    "T4": Say("DELETE removes a file from a later LIST", "DELETE menghapus berkas dari LIST berikutnya"),
    "T5": Say("Exactly one reply per request", "Tepat satu balasan untuk setiap permintaan"),
    "T6": Say("Two clients at once", "Dua klien sekaligus"),
}

_CONN = Say("Client #{client_no} ({client} → {server}, tcp.stream {conn}): ",
            "Klien #{client_no} ({client} → {server}, tcp.stream {conn}): ")


def _conn(en: str, id_: str) -> Say:
    return Say(_CONN.en + en, _CONN.id + id_)


_FIX_REPLY = Say(
    "Answer every request with one JSON object ({{\"status\": \"OK\" or \"ERROR\", ...}}, json.dumps) followed by "
    "\\r\\n\\r\\n, sent with sendall(); the client reads until it sees \\r\\n\\r\\n.",
    "Jawab setiap permintaan dengan satu objek JSON ({{\"status\": \"OK\" atau \"ERROR\", ...}}, json.dumps) yang "
    "diakhiri \\r\\n\\r\\n dan dikirim dengan sendall(); klien membaca sampai menemukan \\r\\n\\r\\n.")
_FIX_SERVE = Say(
    "The server must keep receiving until the request is complete (\\r\\n\\r\\n, or the client's shutdown) and "
    "then send its reply; keep capturing until the reply has arrived.",
    "Server harus terus menerima sampai permintaan lengkap (\\r\\n\\r\\n, atau shutdown dari klien), lalu "
    "mengirim balasannya; teruskan perekaman sampai balasan tiba.")
_FIX_RUN = Say(
    "Start the file server on port {port} (python3 file_server.py) and run the client's {command} against it while "
    "capturing on the server's interface.",
    "Jalankan server berkas pada port {port} (python3 file_server.py), lalu jalankan perintah {command} dari klien "
    "selama perekaman berlangsung pada antarmuka server.")
_FIX_LIST_AFTER = Say(
    "Run LIST again after the {command} has been answered, so the capture shows the folder afterwards.",
    "Jalankan LIST sekali lagi setelah {command} dijawab, agar rekaman menunjukkan isi folder sesudahnya.")


def _run(command: str) -> Say:
    return Say(_FIX_RUN.en.replace("{command}", command), _FIX_RUN.id.replace("{command}", command))


def _list_after(command: str) -> Say:
    return Say(_FIX_LIST_AFTER.en.replace("{command}", command), _FIX_LIST_AFTER.id.replace("{command}", command))


def _shared(prefix: str, what_en: str, what_id: str) -> dict[str, Wording]:
    """No reply / a reply that is no readable JSON / an ERROR reply, for one command."""
    return {
        f"{prefix}_unanswered": Wording(
            _conn(f"{what_en} (frame {{frame}}) got no reply.", f"{what_id} (frame {{frame}}) tidak mendapat balasan."),
            _FIX_SERVE),
        f"{prefix}_bad_reply": Wording(
            _conn(f"{what_en} (frame {{frame}}) was answered (frame {{reply_frame}}), but the reply is not a JSON "
                  "object with a status ({problem}): “{reply}”.",
                  f"{what_id} (frame {{frame}}) dijawab (frame {{reply_frame}}), tetapi balasannya bukan objek JSON "
                  "yang memuat status ({problem}): “{reply}”."),
            _FIX_REPLY),
        f"{prefix}_error": Wording(
            _conn(f"{what_en} (frame {{frame}}) was answered ERROR (frame {{reply_frame}}): “{{said}}”.",
                  f"{what_id} (frame {{frame}}) dijawab ERROR (frame {{reply_frame}}): “{{said}}”."),
            Say("Read the server's reason above: check the command's spelling and the file name (it must exist in "
                "the server's files/ folder for GET and DELETE).",
                "Baca alasan dari server di atas: periksa ejaan perintah dan nama berkasnya (untuk GET dan DELETE "
                "berkas itu harus ada di folder files/ pada server).")),
    }


WORDING: dict[str, Wording] = {
    "no_connection": Wording(
        Say("No connection to a file server in the capture (port {port}, or a file server recognised by its JSON "
            "replies on another port).",
            "Tidak ada koneksi ke server berkas dalam rekaman (port {port}, atau server berkas yang dikenali dari "
            "balasan JSON-nya pada port lain)."),
        Say("Start the file server on port {port} and run the client's commands while capturing on the server's "
            "interface; a server on another port is found by its replies, or name it with --port file=PORT.",
            "Jalankan server berkas pada port {port} dan jalankan perintah-perintah klien selama perekaman "
            "berlangsung pada antarmuka server; server pada port lain dikenali dari balasannya, atau sebutkan "
            "dengan --port file=PORT.")),
    # T1
    "t1_no_list": Wording(
        Say("{n} connection(s) to the file server, but no client sent LIST.",
            "Ada {n} koneksi ke server berkas, tetapi tidak ada klien yang mengirim LIST."), _run("LIST")),
    **_shared("t1", "LIST", "LIST"),
    "t1_not_a_list": Wording(
        _conn("LIST (frame {frame}) was answered OK (frame {reply_frame}), but its data is not a list of names: "
              "“{reply}”.",
              "LIST (frame {frame}) dijawab OK (frame {reply_frame}), tetapi data-nya bukan daftar nama berkas: "
              "“{reply}”."),
        Say("Put the file names in the reply as a JSON list: {{\"status\": \"OK\", \"data\": [\"a.txt\", ...]}}.",
            "Masukkan nama-nama berkas ke balasan sebagai list JSON: {{\"status\": \"OK\", \"data\": "
            "[\"a.txt\", ...]}}.")),
    "t1_ok": Wording(_conn(
        "LIST (frame {frame}) was answered OK (frame {reply_frame}) with {n:,} name(s): {names}.",
        "LIST (frame {frame}) dijawab OK (frame {reply_frame}) dengan {n:,} nama berkas: {names}.")),
    # T2
    "t2_no_get": Wording(
        Say("{n} connection(s) to the file server, but no client sent GET.",
            "Ada {n} koneksi ke server berkas, tetapi tidak ada klien yang mengirim GET."), _run("GET")),
    **_shared("t2", "GET {name}", "GET {name}"),
    "t2_no_file": Wording(
        _conn("GET {name} (frame {frame}) was answered OK (frame {reply_frame}) without a data_file.",
              "GET {name} (frame {frame}) dijawab OK (frame {reply_frame}) tanpa data_file."),
        Say("Send the file's content as base64 in data_file: base64.b64encode(content).decode().",
            "Kirim isi berkas dalam bentuk base64 pada data_file: base64.b64encode(isi).decode().")),
    "t2_bad_base64": Wording(
        _conn("GET {name} (frame {frame}) was answered OK (frame {reply_frame}), but its data_file is not valid "
              "base64 (it stops decoding after {bytes:,} bytes).",
              "GET {name} (frame {frame}) dijawab OK (frame {reply_frame}), tetapi data_file-nya bukan base64 yang "
              "sah (pendekodean berhenti setelah {bytes:,} byte)."),
        Say("Encode the whole file at once with base64.b64encode() (or in pieces whose length is a multiple of 3) "
            "and send the text unchanged.",
            "Enkode seluruh berkas dengan base64.b64encode() (atau per potongan yang panjangnya kelipatan 3) dan "
            "kirim teksnya tanpa diubah.")),
    "t2_size_differs": Wording(
        _conn("GET {name} (frame {frame}): the reply's base64 decodes to {bytes:,} bytes, but the reply announces "
              "{announced:,}.",
              "GET {name} (frame {frame}): base64 pada balasan terdekode menjadi {bytes:,} byte, padahal balasan "
              "itu menyebut {announced:,} byte."),
        Say("Send the whole file: read it completely (open(..., 'rb').read()) before encoding it.",
            "Kirim seluruh berkas: baca berkas sampai habis (open(..., 'rb').read()) sebelum dienkode.")),
    "t2_differs_from_upload": Wording(
        _conn("GET {name} (frame {frame}) returned {bytes:,} bytes (sha256 {sha}…), but the file uploaded under "
              "that name (frame {up_frame}) was {up_bytes:,} bytes (sha256 {up_sha}…).",
              "GET {name} (frame {frame}) mengembalikan {bytes:,} byte (sha256 {sha}…), padahal berkas yang "
              "diunggah dengan nama itu (frame {up_frame}) berukuran {up_bytes:,} byte (sha256 {up_sha}…)."),
        Say("Store an upload exactly as decoded (write the bytes in 'wb' mode) and send it back unchanged.",
            "Simpan unggahan persis seperti hasil dekodenya (tulis byte-nya dengan mode 'wb') dan kirim kembali "
            "tanpa perubahan.")),
    "t2_ok_same_as_upload": Wording(_conn(
        "GET {name} (frame {frame}) was answered OK with {bytes:,} bytes (sha256 {sha}…), the same file that was "
        "uploaded (frame {up_frame}).",
        "GET {name} (frame {frame}) dijawab OK dengan {bytes:,} byte (sha256 {sha}…), sama persis dengan berkas "
        "yang diunggah (frame {up_frame}).")),
    "t2_ok": Wording(_conn(
        "GET {name} (frame {frame}) was answered OK (frame {reply_frame}) with {bytes:,} bytes of base64-decoded "
        "data (sha256 {sha}…).",
        "GET {name} (frame {frame}) dijawab OK (frame {reply_frame}) dengan {bytes:,} byte data hasil dekode base64 "
        "(sha256 {sha}…).")),
    # T3
    "t3_no_upload": Wording(
        Say("{n} connection(s) to the file server, but no client sent UPLOAD.",
            "Ada {n} koneksi ke server berkas, tetapi tidak ada klien yang mengirim UPLOAD."), _run("UPLOAD")),
    "t3_no_data": Wording(
        _conn("UPLOAD {name} (frame {frame}) carries no file content.",
              "UPLOAD {name} (frame {frame}) tidak membawa isi berkas."),
        Say("Send UPLOAD, the name and the file's content as base64, separated by spaces.",
            "Kirim UPLOAD, nama berkas, dan isi berkas dalam base64, dipisahkan dengan spasi.")),
    "t3_bad_base64": Wording(
        _conn("UPLOAD {name} (frame {frame}): the file's base64 is not valid (it stops decoding after {bytes:,} "
              "bytes).",
              "UPLOAD {name} (frame {frame}): base64 berkasnya tidak sah (pendekodean berhenti setelah {bytes:,} "
              "byte)."),
        Say("Encode the file with base64.b64encode(open(path, 'rb').read()).decode() and send it unchanged.",
            "Enkode berkas dengan base64.b64encode(open(path, 'rb').read()).decode() dan kirim tanpa diubah.")),
    **_shared("t3", "UPLOAD {name} ({bytes:,} bytes)", "UPLOAD {name} ({bytes:,} byte)"),
    "t3_stored_differs": Wording(
        _conn("UPLOAD {name} sent {bytes:,} bytes (sha256 {sha}…), but the server says it stored {stored:,} bytes "
              "(sha256 {stored_sha}…).",
              "UPLOAD {name} mengirim {bytes:,} byte (sha256 {sha}…), tetapi server menyatakan menyimpan {stored:,} "
              "byte (sha256 {stored_sha}…)."),
        Say("Receive the whole request before decoding it (until \\r\\n\\r\\n), then write the decoded bytes in "
            "'wb' mode.",
            "Terima seluruh permintaan sebelum mendekodenya (sampai \\r\\n\\r\\n), lalu tulis byte hasil dekode "
            "dengan mode 'wb'.")),
    "t3_no_later_list": Wording(
        _conn("UPLOAD {name} ({bytes:,} bytes, sha256 {sha}…, frame {frame}) was answered OK, but no LIST follows "
              "to show the file.",
              "UPLOAD {name} ({bytes:,} byte, sha256 {sha}…, frame {frame}) dijawab OK, tetapi tidak ada LIST "
              "sesudahnya yang menunjukkan berkas itu."),
        _list_after("UPLOAD")),
    "t3_list_wrong": Wording(
        _conn("UPLOAD {name} (frame {frame}) was answered OK, but the next LIST (frame {list_frame}) does not show "
              "it: {names}.",
              "UPLOAD {name} (frame {frame}) dijawab OK, tetapi LIST berikutnya (frame {list_frame}) tidak "
              "memuatnya: {names}."),
        Say("Write the upload into the folder LIST reads (files/), under the name the client sent.",
            "Tulis unggahan ke folder yang dibaca LIST (files/), dengan nama yang dikirim klien.")),
    "t3_ok": Wording(_conn(
        "UPLOAD {name} ({bytes:,} bytes, sha256 {sha}…, frame {frame}) was answered OK, and the next LIST "
        "(frame {list_frame}) shows it.",
        "UPLOAD {name} ({bytes:,} byte, sha256 {sha}…, frame {frame}) dijawab OK, dan LIST berikutnya "
        "(frame {list_frame}) memuatnya.")),
    # T4
    "t4_no_delete": Wording(
        Say("{n} connection(s) to the file server, but no client sent DELETE.",
            "Ada {n} koneksi ke server berkas, tetapi tidak ada klien yang mengirim DELETE."), _run("DELETE")),
    **_shared("t4", "DELETE {name}", "DELETE {name}"),
    "t4_no_later_list": Wording(
        _conn("DELETE {name} (frame {frame}) was answered OK, but no LIST follows to show the file is gone.",
              "DELETE {name} (frame {frame}) dijawab OK, tetapi tidak ada LIST sesudahnya yang menunjukkan "
              "berkas itu sudah hilang."),
        _list_after("DELETE")),
    "t4_list_wrong": Wording(
        _conn("DELETE {name} (frame {frame}) was answered OK, but the next LIST (frame {list_frame}) still shows "
              "it: {names}.",
              "DELETE {name} (frame {frame}) dijawab OK, tetapi LIST berikutnya (frame {list_frame}) masih "
              "memuatnya: {names}."),
        Say("Remove the file (os.remove) before answering OK, and answer ERROR when it cannot be removed.",
            "Hapus berkasnya (os.remove) sebelum menjawab OK, dan jawab ERROR bila berkas tidak dapat dihapus.")),
    "t4_ok": Wording(_conn(
        "DELETE {name} (frame {frame}) was answered OK, and the next LIST (frame {list_frame}) no longer shows it.",
        "DELETE {name} (frame {frame}) dijawab OK, dan LIST berikutnya (frame {list_frame}) tidak lagi "
        "memuatnya.")),
    # T5
    "t5_no_request": Wording(
        Say("No complete, well-formed request to the file server in the capture.",
            "Tidak ada permintaan yang lengkap dan berformat benar ke server berkas dalam rekaman."),
        _run("LIST")),
    "t5_several_replies": Wording(
        _conn("one {command} request ({bytes:,} bytes, frame {frame}) got {replies:,} replies ({statuses}; frames "
              "{reply_frames} …): the server treats every piece that recv() returns as a request of its own.",
              "satu permintaan {command} ({bytes:,} byte, frame {frame}) mendapat {replies:,} balasan ({statuses}; "
              "frame {reply_frames} …): server memperlakukan setiap potongan hasil recv() sebagai permintaan "
              "tersendiri."),
        Say("Collect what recv() returns in a buffer until the request is complete (it ends with \\r\\n\\r\\n, or the "
            "client shuts down its side), and only then parse and answer it once.",
            "Kumpulkan hasil recv() dalam sebuah buffer sampai permintaan lengkap (diakhiri \\r\\n\\r\\n, atau klien "
            "menutup sisi kirimnya), baru kemudian urai dan jawab satu kali.")),
    "t5_unanswered": Wording(
        _conn("{command} {name} (frame {frame}) got no reply ({unanswered:,} of {n:,} requests unanswered).",
              "{command} {name} (frame {frame}) tidak mendapat balasan ({unanswered:,} dari {n:,} permintaan tidak "
              "dijawab)."),
        _FIX_SERVE),
    "t5_ok": Wording(Say(
        "Each of the {n:,} requests ({commands}) on {conns:,} connection(s) got exactly one reply.",
        "Setiap dari {n:,} permintaan ({commands}) pada {conns:,} koneksi mendapat tepat satu balasan.")),
    # T6 (the shared concurrency task, reporter.assignments.overlap; its t4_* codes become t6_*)
    "t6_no_overlap": Wording(
        Say("No two connections to the file server overlap in time.",
            "Tidak ada dua koneksi ke server berkas yang waktunya tumpang-tindih."),
        Say("Start a slow transfer on mesin-2 (a large file, or --rate) and, while it runs, a command on mesin-3.",
            "Mulai transfer yang lambat di mesin-2 (berkas besar, atau --rate) dan, selama transfer itu berjalan, "
            "jalankan sebuah perintah di mesin-3.")),
    "t6_serial": Wording(Say(
        "{n} connections to {server} from {hosts_n} hosts overlapped; client #{later} ({later_ip}) waited "
        "{wait:.1f} s and was answered only after client #{earlier} closed: the server serves one client at a time.",
        "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih; klien #{later} ({later_ip}) "
        "menunggu {wait:.1f} detik dan baru dijawab setelah klien #{earlier} menutup koneksi: server hanya "
        "melayani satu klien dalam satu waktu."),
        Say("Serve each client in its own thread (threading.Thread or a ThreadPoolExecutor) right after accept().",
            "Layani setiap klien dalam thread tersendiri (threading.Thread atau ThreadPoolExecutor) segera setelah "
            "accept().")),
    "t6_concurrent": Wording(Say(
        "{n} connections to {server} from {hosts_n} hosts overlapped and each client was answered while another "
        "was connected: the server serves clients concurrently.",
        "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih dan setiap klien dijawab ketika "
        "klien lain masih terhubung: server melayani klien secara bersamaan.")),
    "t6_same_host": Wording(
        Say("{n} connections to {server} overlapped and were answered, but all came from one host ({host}).",
            "{n} koneksi ke {server} berlangsung tumpang-tindih dan dijawab, tetapi semuanya berasal dari satu host "
            "({host})."),
        Say("Run the second client on the other client machine (mesin-2 and mesin-3), not twice on one.",
            "Jalankan klien kedua di mesin klien yang lain (mesin-2 dan mesin-3), bukan dua kali di satu mesin.")),
    "t6_not_all_echoed": Wording(
        Say("{n} connections to {server} from {hosts_n} hosts overlapped, but client(s) #{unanswered} did not get "
            "a reply to every request.",
            "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih, tetapi klien #{unanswered} "
            "tidak mendapat balasan untuk setiap permintaannya."),
        Say("Let every client finish and keep capturing until each has its reply.",
            "Biarkan setiap klien selesai dan teruskan perekaman sampai masing-masing menerima balasannya.")),
    "t6_same_host_not_all_echoed": Wording(
        Say("{n} connections to {server} overlapped, all from one host ({host}), and client(s) #{unanswered} did "
            "not get a reply to every request.",
            "{n} koneksi ke {server} berlangsung tumpang-tindih, semuanya dari satu host ({host}), dan klien "
            "#{unanswered} tidak mendapat balasan untuk setiap permintaannya."),
        Say("Run the two clients on mesin-2 and mesin-3 and keep capturing until both have their replies.",
            "Jalankan kedua klien di mesin-2 dan mesin-3, dan teruskan perekaman sampai keduanya menerima "
            "balasan.")),
}
