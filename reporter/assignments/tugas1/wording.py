"""What the Tugas 1 rubric says: task names, and for every reason code the fact and the fix, in
English and Indonesian. Facts are filled in by reporter.assignments.wording.say."""
from __future__ import annotations

from reporter.assignments.wording import Say, Wording

TITLE = Say("Tugas 1: DNS lookup, echo, file echo, two clients", "Tugas 1: kueri DNS, echo, echo berkas, dua klien")

TASK_NAMES = {
    "T1": Say("DNS lookup by socket_info.py", "Kueri DNS oleh socket_info.py"),
    "T2": Say("Echo on port {port}", "Echo pada port {port}"),
    "T3": Say("File echo on port {port}", "Echo berkas pada port {port}"),
    "T4": Say("Two clients at once", "Dua klien sekaligus"),
}

_CONN = Say("Connection {conn} ({client} → {server}): ", "Koneksi {conn} ({client} → {server}): ")
_TCP_AFTER = Say(" A TCP connection to {tcp_server} follows (frame {tcp_frame}), although socket_info.py "
                 "never connects.",
                 " Setelahnya ada koneksi TCP ke {tcp_server} (frame {tcp_frame}), padahal socket_info.py "
                 "tidak pernah membuka koneksi.")


def _conn(en: str, id_: str) -> Say:
    return Say(_CONN.en + en, _CONN.id + id_)


def _then_tcp(s: Say) -> Say:
    return Say(s.en + _TCP_AFTER.en, s.id + _TCP_AFTER.id)


_FIX_CAPTURE_DNS = Say(
    "Capture on an interface the DNS queries cross (the bridge, or eth0 of the machine running socket_info.py) "
    "while socket_info.py runs, and check that it looks up {host}.",
    "Rekam pada antarmuka yang dilewati kueri DNS (bridge, atau eth0 pada mesin yang menjalankan "
    "socket_info.py) selama socket_info.py berjalan, dan pastikan program mencari {host}.")
_FIX_BOTH_TYPES = Say(
    "Call getaddrinfo() without fixing the address family (AF_UNSPEC), so that it asks for both A and AAAA.",
    "Panggil getaddrinfo() tanpa menetapkan keluarga alamat (AF_UNSPEC), agar kueri A dan AAAA sama-sama dikirim.")
_FIX_DNS_SERVER = Say(
    "No DNS server answered: check /etc/resolv.conf on that machine and that the DNS server is reachable.",
    "Tidak ada server DNS yang menjawab: periksa /etc/resolv.conf pada mesin itu dan pastikan server DNS dapat "
    "dijangkau.")
_FIX_RUN_CLIENT = Say(
    "Start the server on port {port} first, then run the client against it while capturing on the server's interface.",
    "Jalankan server pada port {port} terlebih dahulu, lalu jalankan klien ke server itu selama perekaman "
    "berlangsung pada antarmuka server.")

WORDING: dict[str, Wording] = {
    # T1
    "t1_no_query": Wording(Say("No DNS query for {host} in the capture.",
                               "Tidak ada kueri DNS untuk {host} dalam rekaman."), _FIX_CAPTURE_DNS),
    "t1_no_query_other": Wording(Say("No DNS query for {host}; the capture looks up {names}.",
                                     "Tidak ada kueri DNS untuk {host}; rekaman ini mencari {names}."),
                                 _FIX_CAPTURE_DNS),
    "t1_answered": Wording(Say("{host}: an A and an AAAA query were sent and answered (A: {a}; AAAA: {aaaa}); "
                               "no TCP connection to the address follows.",
                               "{host}: kueri A dan AAAA dikirim dan dijawab (A: {a}; AAAA: {aaaa}); tidak ada "
                               "koneksi TCP ke alamat itu sesudahnya.")),
    "t1_answered_then_tcp": Wording(_then_tcp(Say("{host}: an A and an AAAA query were sent and answered "
                                                  "(A: {a}; AAAA: {aaaa}).",
                                                  "{host}: kueri A dan AAAA dikirim dan dijawab (A: {a}; "
                                                  "AAAA: {aaaa})."))),
    "t1_unanswered": Wording(Say("{host}: an A and an AAAA query were sent, but no response came.",
                                 "{host}: kueri A dan AAAA dikirim, tetapi tidak ada jawaban."), _FIX_DNS_SERVER),
    "t1_unanswered_then_tcp": Wording(_then_tcp(Say("{host}: an A and an AAAA query were sent, but no response "
                                                    "came.", "{host}: kueri A dan AAAA dikirim, tetapi tidak ada "
                                                    "jawaban.")), _FIX_DNS_SERVER),
    "t1_one_type": Wording(Say("{host}: only {have} was asked for, no {missing} query.",
                               "{host}: hanya {have} yang ditanyakan, tidak ada kueri {missing}."), _FIX_BOTH_TYPES),
    "t1_one_type_then_tcp": Wording(_then_tcp(Say("{host}: only {have} was asked for, no {missing} query.",
                                                  "{host}: hanya {have} yang ditanyakan, tidak ada kueri "
                                                  "{missing}.")), _FIX_BOTH_TYPES),
    # T2 / T3
    "echo_no_connection": Wording(Say("No TCP connection to port {port} in the capture.",
                                      "Tidak ada koneksi TCP ke port {port} dalam rekaman."), _FIX_RUN_CLIENT),
    "echo_no_handshake_no_data": Wording(
        _conn("the capture has neither a handshake nor data.", "rekaman tidak memuat jabat tangan maupun data."),
        Say("Start capturing before the client connects, on the server's interface.",
            "Mulai perekaman sebelum klien terhubung, pada antarmuka server.")),
    "echo_handshake_failed": Wording(
        _conn("the handshake did not complete.", "jabat tangan tidak selesai."),
        Say("Check that the server is running and listening on port {port} before the client connects.",
            "Pastikan server sudah berjalan dan mendengarkan pada port {port} sebelum klien terhubung.")),
    "echo_no_data": Wording(
        _conn("the handshake completed but the client sent no data.",
              "jabat tangan selesai, tetapi klien tidak mengirim data."),
        Say("Check that the client calls sendall() with the message after connect().",
            "Pastikan klien memanggil sendall() dengan pesannya setelah connect().")),
    "echo_no_complete_handshake": Wording(
        _conn("the client sent {sent:,} bytes, but the capture has no complete handshake.",
              "klien mengirim {sent:,} byte, tetapi rekaman tidak memuat jabat tangan yang lengkap."),
        Say("Start capturing before the client connects, so the handshake is in the capture.",
            "Mulai perekaman sebelum klien terhubung, agar jabat tangan ikut terekam.")),
    "echo_nothing_echoed": Wording(
        _conn("the client sent {sent:,} bytes, nothing came back.",
              "klien mengirim {sent:,} byte, tetapi tidak ada yang dikembalikan."),
        Say("The server must send back every byte it receives (sendall(data) after each recv()).",
            "Server harus mengirim kembali setiap byte yang diterimanya (sendall(data) setelah setiap recv()).")),
    "echo_differs": Wording(
        _conn("the echo differs from the request at byte {offset:,}.",
              "echo berbeda dari permintaan mulai byte ke-{offset:,}."),
        Say("The server must send back the received bytes unchanged; compare the two directions in Follow TCP Stream.",
            "Server harus mengembalikan byte yang diterima tanpa perubahan; bandingkan kedua arah di Follow TCP Stream.")),
    "echo_short": Wording(
        _conn("only {echoed:,} of {sent:,} bytes came back.", "hanya {echoed:,} dari {sent:,} byte yang kembali."),
        Say("The server must keep receiving and echoing until the client closes, and the client must read until "
            "it has received as many bytes as it sent.",
            "Server harus terus menerima dan mengembalikan data sampai klien menutup koneksi, dan klien harus terus "
            "membaca sampai jumlah byte yang diterimanya sama dengan yang dikirimnya.")),
    "echo_unverifiable": Wording(
        _conn("{missing:,} bytes of the request or the echo were not captured, so the echo cannot be verified.",
              "{missing:,} byte permintaan atau echo tidak terekam, sehingga echo tidak dapat diverifikasi."),
        Say("Capture again without losing packets (capture on the server, with a large enough buffer and snap length).",
            "Rekam ulang tanpa kehilangan paket (rekam di sisi server, dengan buffer dan snap length yang cukup).")),
    "echo_reset": Wording(
        _conn("{sent:,} bytes were echoed, but the connection ended with a reset (RST).",
              "{sent:,} byte sudah dikembalikan, tetapi koneksi diakhiri dengan reset (RST)."),
        Say("Close the socket normally (close() after the last recv()), without unread data left.",
            "Tutup soket secara normal (close() setelah recv() terakhir), tanpa menyisakan data yang belum dibaca.")),
    "echo_not_closed": Wording(
        _conn("{sent:,} bytes were echoed, but the connection is not closed in the capture.",
              "{sent:,} byte sudah dikembalikan, tetapi penutupan koneksi tidak ada dalam rekaman."),
        Say("Stop the capture only after the client has closed the connection (FIN).",
            "Hentikan perekaman setelah klien menutup koneksi (FIN).")),
    "echo_request_short": Wording(
        _conn("the echo is right, but the request is only {sent:,} bytes; a file should be longer than {min:,}.",
              "echo sudah benar, tetapi permintaannya hanya {sent:,} byte; sebuah berkas seharusnya lebih dari "
              "{min:,} byte."),
        Say("Send a file (the client's --file option), not the 46-byte message.",
            "Kirim sebuah berkas (opsi --file pada klien), bukan pesan 46 byte.")),
    "echo_ok_client_closed": Wording(
        _conn("{sent:,} bytes were sent and echoed back unchanged; the client closed first.",
              "{sent:,} byte dikirim dan dikembalikan tanpa perubahan; klien menutup koneksi lebih dulu.")),
    "echo_ok_server_closed": Wording(
        _conn("{sent:,} bytes were sent and echoed back unchanged; the server closed first.",
              "{sent:,} byte dikirim dan dikembalikan tanpa perubahan; server menutup koneksi lebih dulu.")),
    # T4
    "t4_no_overlap": Wording(
        Say("No two connections to one server endpoint overlap in time.",
            "Tidak ada dua koneksi ke titik akhir server yang sama yang waktunya tumpang-tindih."),
        Say("Start the clients on mesin-2 and mesin-3 at the same time, each sending several times a few seconds "
            "apart (--repeat 3 --interval 3).",
            "Jalankan klien di mesin-2 dan mesin-3 pada saat yang sama, masing-masing mengirim beberapa kali "
            "dengan jeda beberapa detik (--repeat 3 --interval 3).")),
    "t4_serial": Wording(Say(
        "{n} connections to {server} from {hosts_n} hosts overlapped; client #{later} ({later_ip}) waited "
        "{wait:.1f} s and was served only after client #{earlier} closed: the server serves one client at a time.",
        "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih; klien #{later} ({later_ip}) "
        "menunggu {wait:.1f} detik dan baru dilayani setelah klien #{earlier} menutup koneksi: server hanya "
        "melayani satu klien dalam satu waktu.")),
    "t4_concurrent": Wording(Say(
        "{n} connections to {server} from {hosts_n} hosts overlapped and each client was echoed while another was "
        "connected: the server serves clients concurrently.",
        "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih dan setiap klien menerima echo "
        "ketika klien lain masih terhubung: server melayani klien secara bersamaan.")),
    "t4_same_host": Wording(
        Say("{n} connections to {server} overlapped and were echoed, but all came from one host ({host}).",
            "{n} koneksi ke {server} berlangsung tumpang-tindih dan menerima echo, tetapi semuanya berasal dari "
            "satu host ({host})."),
        Say("Run the second client on the other client machine (mesin-2 and mesin-3), not twice on one.",
            "Jalankan klien kedua di mesin klien yang lain (mesin-2 dan mesin-3), bukan dua kali di satu mesin.")),
    "t4_not_all_echoed": Wording(
        Say("{n} connections to {server} from {hosts_n} hosts overlapped, but client(s) #{unechoed} got no complete "
            "echo.",
            "{n} koneksi ke {server} dari {hosts_n} host berlangsung tumpang-tindih, tetapi klien #{unechoed} tidak "
            "menerima echo yang lengkap."),
        Say("Let every client finish: the serial server answers the second client only after the first closes, so "
            "keep capturing until both are done.",
            "Biarkan setiap klien selesai: server serial baru menjawab klien kedua setelah klien pertama menutup "
            "koneksi, jadi teruskan perekaman sampai keduanya selesai.")),
    "t4_same_host_not_all_echoed": Wording(
        Say("{n} connections to {server} overlapped, all from one host ({host}), and client(s) #{unechoed} got no "
            "complete echo.",
            "{n} koneksi ke {server} berlangsung tumpang-tindih, semuanya dari satu host ({host}), dan klien "
            "#{unechoed} tidak menerima echo yang lengkap."),
        Say("Run the two clients on mesin-2 and mesin-3 and keep capturing until both have finished.",
            "Jalankan kedua klien di mesin-2 dan mesin-3, dan teruskan perekaman sampai keduanya selesai.")),
}
