"""What the ETS rubric says: task names, reason codes in English and Indonesian, and the words for
a failed transfer's reason (runs[].reason), which the report's tables use too."""
from __future__ import annotations

from reporter.assignments.wording import Say, Wording

TITLE = Say("ETS: the file server on a thread pool and a process pool, stress-tested",
            "ETS: server berkas dengan thread pool dan process pool, diuji beban")

TASK_NAMES = {
    "T1": Say("Transfers measured on port {port}", "Transfer terukur pada port {port}"),
    "T2": Say("Every transfer succeeded", "Setiap transfer berhasil"),
    "T3": Say("Several clients at once", "Beberapa klien sekaligus"),
    "T4": Say("The table covers operations, sizes and client counts",
              "Tabel mencakup operasi, ukuran berkas, dan jumlah klien"),
}

# runs[].reason: why one transfer failed (also the first failure's words in T2)
RUN_REASONS: dict[str, Say] = {
    "error": Say("the server answered ERROR", "server menjawab ERROR"),
    "no-reply": Say("no reply came", "tidak ada balasan"),
    "reset": Say("the connection was reset (RST) before the reply was complete",
                 "koneksi di-reset (RST) sebelum balasan lengkap"),
    "bad-base64": Say("the file's base64 does not decode", "base64 berkasnya tidak dapat didekode"),
    "size-mismatch": Say("the decoded file's size differs from the size announced",
                         "ukuran berkas hasil dekode berbeda dari ukuran yang disebutkan"),
    "sha-mismatch": Say("the decoded file's sha256 differs from the one announced",
                        "sha256 berkas hasil dekode berbeda dari yang disebutkan"),
    "not-captured": Say("bytes of it are missing from the capture", "sebagian byte-nya tidak terekam"),
    "bad-reply": Say("the reply is not a complete JSON object", "balasannya bukan objek JSON yang lengkap"),
    "no-file": Say("the OK reply carries no data_file", "balasan OK tidak membawa data_file"),
}

_FIX_RUN = Say(
    "Run the stress client against the server on port {port} while capturing on the server's interface "
    "(file_client.py stress --operation upload,download --size 10MB,50MB,100MB --clients 1,5,50).",
    "Jalankan klien uji beban ke server pada port {port} selama perekaman berlangsung pada antarmuka server "
    "(file_client.py stress --operation upload,download --size 10MB,50MB,100MB --clients 1,5,50).")
_FIX_FAILED = {
    "error": Say("Read the server's ERROR text in the message list; with many clients, check that the pool's "
                 "workers and the folder (disk space) keep up.",
                 "Baca teks ERROR dari server pada daftar pesan; dengan banyak klien, periksa apakah worker pada "
                 "pool dan foldernya (ruang disk) mampu melayani."),
    "no-reply": Say("Give the clients a longer timeout, or more server workers, so every request is answered "
                    "before the client gives up; keep capturing until the last reply.",
                    "Beri klien batas waktu yang lebih panjang, atau tambah worker server, agar setiap permintaan "
                    "dijawab sebelum klien menyerah; teruskan perekaman sampai balasan terakhir."),
    "reset": Say("A reset means one side closed with unread data or crashed: look at which side sent the RST and "
                 "at the server's log for that moment.",
                 "Reset berarti salah satu pihak menutup koneksi dengan data yang belum dibaca atau program "
                 "berhenti mendadak: lihat pihak mana yang mengirim RST dan periksa log server pada saat itu."),
}
_FIX_FILE = Say("Read the whole file before encoding it, encode it with base64.b64encode(), and on the receiving "
                "side decode only the complete text (up to \\r\\n\\r\\n).",
                "Baca seluruh berkas sebelum dienkode, enkode dengan base64.b64encode(), dan di sisi penerima "
                "dekode teks yang sudah lengkap saja (sampai \\r\\n\\r\\n).")

_T2_HEAD = Say("{failed:,} of {n:,} transfers failed; the first, {command} {name} ({size:,} bytes, connection "
               "{conn}, frame {frame}): ",
               "{failed:,} dari {n:,} transfer gagal; yang pertama, {command} {name} ({size:,} byte, koneksi "
               "{conn}, frame {frame}): ")


def _t2(reason: str) -> Wording:
    words = RUN_REASONS[reason]
    fix = _FIX_FAILED.get(reason, _FIX_FILE)
    return Wording(Say(_T2_HEAD.en + words.en + ".", _T2_HEAD.id + words.id + "."), fix)


WORDING: dict[str, Wording] = {
    "no_connection": Wording(
        Say("No connection to a file server in the capture (port {port}, or a file server recognised by its JSON "
            "replies on another port).",
            "Tidak ada koneksi ke server berkas dalam rekaman (port {port}, atau server berkas yang dikenali dari "
            "balasan JSON-nya pada port lain)."), _FIX_RUN),
    # T1
    "t1_no_transfer": Wording(
        Say("{n:,} connection(s) to the file server, but no UPLOAD or GET.",
            "Ada {n:,} koneksi ke server berkas, tetapi tidak ada UPLOAD maupun GET."), _FIX_RUN),
    "t1_only_uploads": Wording(
        Say("{n:,} transfers measured, all of them uploads (sizes: {sizes:,} bytes); the table needs downloads too.",
            "{n:,} transfer terukur, semuanya unggahan (ukuran: {sizes:,} byte); tabel juga memerlukan unduhan."),
        Say("Run the stress test with --operation upload,download.",
            "Jalankan uji beban dengan --operation upload,download.")),
    "t1_only_downloads": Wording(
        Say("{n:,} transfers measured, all of them downloads (sizes: {sizes:,} bytes); the table needs uploads too.",
            "{n:,} transfer terukur, semuanya unduhan (ukuran: {sizes:,} byte); tabel juga memerlukan unggahan."),
        Say("Run the stress test with --operation upload,download.",
            "Jalankan uji beban dengan --operation upload,download.")),
    "t1_measured": Wording(Say(
        "{n:,} transfers measured: {uploads:,} uploads and {downloads:,} downloads, of {sizes:,} bytes.",
        "{n:,} transfer terukur: {uploads:,} unggahan dan {downloads:,} unduhan, berukuran {sizes:,} byte.")),
    # T2
    "t2_all_ok": Wording(Say(
        "All {n:,} transfers succeeded: every reply is OK and every decoded file has the size announced.",
        "Semua {n:,} transfer berhasil: setiap balasan OK dan setiap berkas hasil dekode berukuran sesuai yang "
        "disebutkan.")),
    **{f"t2_failed_{k}": _t2(k) for k in RUN_REASONS},
    # T3
    "t3_one_client": Wording(
        Say("Every batch of transfers had one client: nothing was transferred by several clients at once.",
            "Setiap kelompok transfer hanya memiliki satu klien: tidak ada transfer oleh beberapa klien "
            "sekaligus."),
        Say("Run the stress test with several client workers (--clients 1,5,50).",
            "Jalankan uji beban dengan beberapa worker klien (--clients 1,5,50).")),
    "t3_no_overlap": Wording(
        Say("Batches of up to {clients:,} clients were run, but their transfers never overlapped on the wire: "
            "each finished before the next began (files of {size:,} bytes are too small to show concurrency).",
            "Kelompok hingga {clients:,} klien dijalankan, tetapi transfernya tidak pernah tumpang-tindih: "
            "masing-masing selesai sebelum yang berikutnya dimulai (berkas {size:,} byte terlalu kecil untuk "
            "menunjukkan konkurensi)."),
        Say("Use larger files (10 MB and up), so that the transfers of one batch are in progress together.",
            "Gunakan berkas yang lebih besar (10 MB ke atas), agar transfer dalam satu kelompok berlangsung "
            "bersamaan.")),
    "t3_concurrent": Wording(Say(
        "Up to {peak:,} transfers were in progress at once ({command}, {size:,} bytes, by {clients:,} clients; "
        "{successes:,} succeeded).",
        "Hingga {peak:,} transfer berlangsung bersamaan ({command}, {size:,} byte, oleh {clients:,} klien; "
        "{successes:,} berhasil).")),
    # T4
    "t4_matrix": Wording(Say(
        "The table has {rows:,} rows: {ops} × {sizes_n:,} file sizes × {clients_n:,} client counts ({clients}).",
        "Tabel memiliki {rows:,} baris: {ops} × {sizes_n:,} ukuran berkas × {clients_n:,} jumlah klien "
        "({clients}).")),
    "t4_gaps": Wording(
        Say("The table has {rows:,} rows ({ops}; sizes {sizes:,} bytes; clients {clients}), but {missing_n:,} "
            "combination(s) are missing: {missing}.",
            "Tabel memiliki {rows:,} baris ({ops}; ukuran {sizes:,} byte; klien {clients}), tetapi {missing_n:,} "
            "kombinasi tidak ada: {missing}."),
        Say("Run every operation with every file size and every client count (the stress client does so for "
            "the lists given to --operation, --size and --clients).",
            "Jalankan setiap operasi dengan setiap ukuran berkas dan setiap jumlah klien (klien uji beban "
            "melakukannya untuk daftar yang diberikan pada --operation, --size, dan --clients).")),
    "t4_small": Wording(
        Say("The table has {rows:,} row(s) ({ops}; sizes {sizes:,} bytes; clients {clients}): it needs uploads and "
            "downloads, at least two file sizes and at least two client counts.",
            "Tabel memiliki {rows:,} baris ({ops}; ukuran {sizes:,} byte; klien {clients}): tabel memerlukan "
            "unggahan dan unduhan, sedikitnya dua ukuran berkas, dan sedikitnya dua jumlah klien."),
        Say("Run the stress test with --operation upload,download --size 10MB,50MB,100MB --clients 1,5,50.",
            "Jalankan uji beban dengan --operation upload,download --size 10MB,50MB,100MB --clients 1,5,50.")),
}
