"""What the Tugas 1 rubric says: task names, and for every reason code the fact and the fix, in
English and Indonesian. Facts are filled in by reporter.assignments.wording.say.

Why every sentence names its connection the same way ("client #2 (a → b, tcp.stream 1)"): the
number is the Wireshark plugin's client number on that server (progjar.client, in order of first
SYN) and tcp.stream is what a student types into the filter bar, so the report, the plugin's Info
column and Wireshark's own stream index point at the same thing.

Indonesian is written as a lecturer writes course material: formal, with the terms the lab uses
(frame, echo, handshake, port, byte stay as they are; "tangkapan" for a capture) and Wireshark's
menu names in English.
"""
from __future__ import annotations

from reporter.assignments.wording import Say, Wording

TITLE = Say("Tugas 1: DNS lookup, echo, file echo, two clients", "Tugas 1: kueri DNS, echo, echo berkas, dua klien")

TASK_NAMES = {
    "T1": Say("DNS lookup by socket_info.py", "Kueri DNS oleh socket_info.py"),
    "T2": Say("Echo on port {port}", "Echo pada port {port}"),
    "T3": Say("File echo on port {port}", "Echo berkas pada port {port}"),
    "T4": Say("Two clients at once", "Dua klien sekaligus"),
}

_CONN = Say("Client #{client_no} ({client} → {server}, tcp.stream {conn}): ",
            "Klien #{client_no} ({client} → {server}, tcp.stream {conn}): ")
_TCP_AFTER = Say(" A TCP connection to {tcp_server} follows (frame {tcp_frame}, tcp.stream {tcp_conn}), although "
                 "socket_info.py never connects.",
                 " Sesudahnya ada koneksi TCP ke {tcp_server} (frame {tcp_frame}, tcp.stream {tcp_conn}), padahal "
                 "socket_info.py tidak pernah membuka koneksi.")


def _conn(en: str, id_: str) -> Say:
    return Say(_CONN.en + en, _CONN.id + id_)


def _then_tcp(s: Say) -> Say:
    return Say(s.en + _TCP_AFTER.en, s.id + _TCP_AFTER.id)


_FIX_CAPTURE_DNS = Say(
    "Capture on an interface the DNS queries cross (the bridge, or eth0 of the machine that runs socket_info.py) "
    "while socket_info.py runs, and check that it looks up {host}.",
    "Tangkap paket pada antarmuka yang dilalui kueri DNS (bridge, atau eth0 pada mesin yang menjalankan "
    "socket_info.py) selama socket_info.py berjalan, dan pastikan program itu mencari {host}.")
_FIX_BOTH_TYPES = Say(
    "Call getaddrinfo() without fixing the address family (AF_UNSPEC), so that it asks for both A and AAAA.",
    "Panggil getaddrinfo() tanpa menetapkan keluarga alamat (AF_UNSPEC) agar kueri A dan AAAA sama-sama dikirim.")
_FIX_DNS_SERVER = Say(
    "No DNS server answered: check /etc/resolv.conf on that machine and that the DNS server can be reached.",
    "Tidak ada server DNS yang menjawab: periksa /etc/resolv.conf pada mesin itu dan pastikan server DNS dapat "
    "dijangkau.")
_FIX_RUN_CLIENT = Say(
    "Start the server on port {port} first, then run the client against it while capturing on the server's "
    "interface.",
    "Jalankan server pada port {port} terlebih dahulu, lalu jalankan klien ke server itu sambil menangkap paket "
    "pada antarmuka server.")
_FIX_OTHER_PORT = Say(
    "If that is your server, make the report again with --port {service}={seen_port} so that it is judged on that "
    "port; the assignment itself asks for port {port}.",
    "Jika itu server Anda, buat ulang laporan dengan --port {service}={seen_port} agar koneksi itu dinilai pada port "
    "tersebut; tugas ini sendiri meminta port {port}.")
_FIX_START_EARLY = Say(
    "Start capturing on the server's interface before the client connects.",
    "Mulailah menangkap paket pada antarmuka server sebelum klien terhubung.")

WORDING: dict[str, Wording] = {
    # T1
    "t1_no_query": Wording(Say("No DNS query for {host} in the capture.",
                               "Tangkapan ini tidak memuat kueri DNS untuk {host}."), _FIX_CAPTURE_DNS),
    "t1_no_query_other": Wording(Say("No DNS query for {host}; the capture looks up {names} instead.",
                                     "Tidak ada kueri DNS untuk {host}; nama yang dikueri dalam tangkapan ini adalah "
                                     "{names}."),
                                 _FIX_CAPTURE_DNS),
    "t1_answered": Wording(Say("{host}: an A query and an AAAA query were sent and answered (A: {a}; AAAA: {aaaa}), "
                               "and no TCP connection to the address follows: socket_info.py only resolves the name.",
                               "{host}: kueri A dan kueri AAAA dikirim dan dijawab (A: {a}; AAAA: {aaaa}), dan "
                               "sesudahnya tidak ada koneksi TCP ke alamat itu: socket_info.py hanya menerjemahkan "
                               "nama.")),
    "t1_answered_then_tcp": Wording(_then_tcp(Say("{host}: an A query and an AAAA query were sent and answered "
                                                  "(A: {a}; AAAA: {aaaa}).",
                                                  "{host}: kueri A dan kueri AAAA dikirim dan dijawab (A: {a}; "
                                                  "AAAA: {aaaa})."))),
    "t1_unanswered": Wording(Say("{host}: an A query and an AAAA query were sent, but no response came back.",
                                 "{host}: kueri A dan kueri AAAA dikirim, tetapi tidak ada jawaban yang kembali."),
                             _FIX_DNS_SERVER),
    "t1_one_type": Wording(Say("{host}: only {have} was queried, with no {missing} query.",
                               "{host}: hanya kueri {have} yang dikirim, tanpa kueri {missing}."), _FIX_BOTH_TYPES),
    "t1_one_type_then_tcp": Wording(_then_tcp(Say("{host}: only {have} was queried, with no {missing} query.",
                                                  "{host}: hanya kueri {have} yang dikirim, tanpa kueri "
                                                  "{missing}.")), _FIX_BOTH_TYPES),
    # T2 / T3
    "echo_no_connection": Wording(Say("No TCP connection to port {port} in the capture, and no echo on any other "
                                      "port.",
                                      "Tangkapan ini tidak memuat koneksi TCP ke port {port}, dan tidak ada echo di "
                                      "port lain."), _FIX_RUN_CLIENT),
    "echo_no_file_elsewhere": Wording(
        Say("No TCP connection to port {port}; the echo seen on port {seen_port} carried at most {most:,} bytes, no "
            "more than the {min:,}-byte lab message, so it counts as the echo task, not as a file.",
            "Tidak ada koneksi TCP ke port {port}; echo yang terlihat di port {seen_port} paling banyak membawa "
            "{most:,} byte, tidak lebih dari pesan praktikum {min:,} byte, sehingga echo itu dihitung sebagai tugas "
            "echo, bukan sebagai berkas."),
        Say("Send a file (the client's --file option) to the file echo server on port {port}.",
            "Kirim sebuah berkas (opsi --file pada klien) ke server echo berkas pada port {port}.")),
    "echo_other_port": Wording(
        Say("No connection went to port {port}, but an echo was seen on port {seen_port}: client #{client_no} "
            "({client} → {server}, tcp.stream {conn}) got all {sent:,} bytes back unchanged.",
            "Tidak ada koneksi ke port {port}, tetapi ada echo di port {seen_port}: klien #{client_no} "
            "({client} → {server}, tcp.stream {conn}) menerima kembali seluruh {sent:,} byte tanpa perubahan."),
        _FIX_OTHER_PORT),
    "echo_other_port_short": Wording(
        Say("No connection went to port {port}, but an echo was seen on port {seen_port}: client #{client_no} "
            "({client} → {server}, tcp.stream {conn}) got {echoed:,} of {sent:,} bytes back unchanged.",
            "Tidak ada koneksi ke port {port}, tetapi ada echo di port {seen_port}: klien #{client_no} "
            "({client} → {server}, tcp.stream {conn}) menerima kembali {echoed:,} dari {sent:,} byte tanpa "
            "perubahan."),
        _FIX_OTHER_PORT),
    "echo_no_handshake_no_data": Wording(
        _conn("the capture holds neither a handshake nor data.", "tangkapan tidak memuat handshake maupun data."),
        _FIX_START_EARLY),
    "echo_handshake_failed": Wording(
        _conn("the handshake did not complete.", "handshake tidak selesai."),
        Say("Check that the server is running and listening on port {port} before the client connects.",
            "Pastikan server sudah berjalan dan mendengarkan (listen) pada port {port} sebelum klien terhubung.")),
    "echo_no_data": Wording(
        _conn("the handshake completed, but the client sent no data.",
              "handshake selesai, tetapi klien tidak mengirim data."),
        Say("Check that the client calls sendall() with its message after connect().",
            "Pastikan klien memanggil sendall() dengan pesannya setelah connect().")),
    "echo_no_complete_handshake": Wording(
        _conn("the client sent {sent:,} bytes, but the capture has no complete handshake.",
              "klien mengirim {sent:,} byte, tetapi handshake-nya tidak tertangkap lengkap."),
        Say("Start capturing before the client connects, so that the handshake is captured too.",
            "Mulailah menangkap paket sebelum klien terhubung agar handshake ikut tertangkap.")),
    "echo_nothing_echoed": Wording(
        _conn("the client sent {sent:,} bytes, and nothing came back.",
              "klien mengirim {sent:,} byte, tetapi tidak ada yang dikembalikan."),
        Say("The server must send back every byte it receives (sendall(data) after each recv()).",
            "Server harus mengirim kembali setiap byte yang diterimanya (sendall(data) setelah setiap recv()).")),
    "echo_differs": Wording(
        _conn("the echo differs at byte {offset:,} (counted from 0); the bytes before it came back unchanged.",
              "echo berbeda pada posisi byte {offset:,} (dihitung dari 0); byte sebelum posisi itu kembali tanpa "
              "perubahan."),
        Say("The server must send back the bytes it received unchanged; compare the two directions in Follow TCP "
            "Stream.",
            "Server harus mengembalikan byte yang diterimanya tanpa perubahan; bandingkan kedua arah di Follow TCP "
            "Stream.")),
    "echo_differs_byte": Wording(
        _conn("the echo differs at byte {offset:,} (counted from 0): the client sent {sent_byte} there, the server "
              "sent back {echo_byte}.",
              "echo berbeda pada posisi byte {offset:,} (dihitung dari 0): di posisi itu klien mengirim {sent_byte}, "
              "server mengembalikan {echo_byte}."),
        Say("The server must send back the bytes it received unchanged; compare the two directions in Follow TCP "
            "Stream.",
            "Server harus mengembalikan byte yang diterimanya tanpa perubahan; bandingkan kedua arah di Follow TCP "
            "Stream.")),
    "echo_short": Wording(
        _conn("only {echoed:,} of {sent:,} bytes came back.", "hanya {echoed:,} dari {sent:,} byte yang kembali."),
        Say("The server must keep receiving and echoing until the client closes, and the client must keep reading "
            "until it has received as many bytes as it sent.",
            "Server harus terus menerima dan mengembalikan data sampai klien menutup koneksi, dan klien harus terus "
            "membaca sampai jumlah byte yang diterimanya sama dengan yang dikirimnya.")),
    "echo_unverifiable": Wording(
        _conn("{missing:,} bytes of the request or the echo were not captured, so the echo cannot be verified.",
              "{missing:,} byte permintaan atau echo tidak tertangkap, sehingga echo tidak dapat diverifikasi."),
        Say("Capture again without losing packets (on the server, with a large enough buffer and snap length).",
            "Ulangi penangkapan paket tanpa ada yang hilang (di sisi server, dengan buffer dan snap length yang "
            "cukup).")),
    "echo_reset": Wording(
        _conn("{sent:,} bytes were echoed, but the connection ended with a reset (RST).",
              "{sent:,} byte sudah dikembalikan, tetapi koneksi diakhiri dengan reset (RST)."),
        Say("Close the socket normally (close() after the last recv()), with no unread data left.",
            "Tutup soket secara normal (close() setelah recv() terakhir) tanpa menyisakan data yang belum dibaca.")),
    "echo_not_closed": Wording(
        _conn("{sent:,} bytes were echoed, but the capture does not show the connection closing.",
              "{sent:,} byte sudah dikembalikan, tetapi penutupan koneksinya tidak ada dalam tangkapan."),
        Say("Stop the capture only after the client has closed the connection (FIN).",
            "Hentikan penangkapan paket setelah klien menutup koneksi (FIN).")),
    "echo_request_short": Wording(
        _conn("the echo is right, but the request is only {sent:,} bytes; a file should be longer than {min:,}.",
              "echo sudah benar, tetapi permintaannya hanya {sent:,} byte; berkas yang dikirim seharusnya lebih dari "
              "{min:,} byte."),
        Say("Send a file (the client's --file option), not the 46-byte lab message.",
            "Kirim sebuah berkas (opsi --file pada klien), bukan pesan praktikum 46 byte.")),
    "echo_ok_client_closed": Wording(
        _conn("{sent:,} bytes were sent and came back unchanged; the client closed first.",
              "{sent:,} byte dikirim dan kembali tanpa perubahan; klien menutup koneksi lebih dulu.")),
    "echo_ok_server_closed": Wording(
        _conn("{sent:,} bytes were sent and came back unchanged; the server closed first.",
              "{sent:,} byte dikirim dan kembali tanpa perubahan; server menutup koneksi lebih dulu.")),
    # T4
    "t4_no_overlap": Wording(
        Say("No two connections to the same server endpoint (address and port) overlap in time.",
            "Tidak ada dua koneksi ke titik akhir server (alamat dan port) yang sama yang berlangsung bersamaan."),
        Say("Start the clients on mesin-2 and mesin-3 at the same time, each sending several times a few seconds "
            "apart (--repeat 3 --interval 3).",
            "Jalankan klien di mesin-2 dan mesin-3 pada saat yang sama, masing-masing mengirim beberapa kali "
            "dengan jeda beberapa detik (--repeat 3 --interval 3).")),
    "t4_serial": Wording(Say(
        "{n} connections to {server} from {hosts_n} hosts overlapped; client #{later} ({later_ip}) waited "
        "{wait:.2f} s and was served only after client #{earlier} closed: the server serves one client at a time.",
        "{n} koneksi ke {server} dari {hosts_n} host berlangsung bersamaan; klien #{later} ({later_ip}) menunggu "
        "{wait:.2f} detik dan baru dilayani setelah klien #{earlier} menutup koneksinya: server hanya melayani satu "
        "klien dalam satu waktu.")),
    "t4_concurrent": Wording(Say(
        "{n} connections to {server} from {hosts_n} hosts overlapped, and each client got its echo while another "
        "was still connected: the server serves clients concurrently.",
        "{n} koneksi ke {server} dari {hosts_n} host berlangsung bersamaan, dan setiap klien menerima echo selagi "
        "klien lain masih terhubung: server melayani beberapa klien sekaligus.")),
    "t4_same_host": Wording(
        Say("{n} connections to {server} overlapped and all were echoed, but all from the same host ({host}).",
            "{n} koneksi ke {server} berlangsung bersamaan dan semuanya menerima echo, tetapi semuanya dari host "
            "yang sama ({host})."),
        Say("Run the second client on the other client machine (one on mesin-2, one on mesin-3), not twice on one "
            "machine.",
            "Jalankan klien kedua di mesin klien yang lain (satu di mesin-2, satu di mesin-3), bukan dua kali di "
            "mesin yang sama.")),
    "t4_not_all_echoed": Wording(
        Say("{n} connections to {server} from {hosts_n} hosts overlapped, but these clients got no complete echo: "
            "{unechoed}.",
            "{n} koneksi ke {server} dari {hosts_n} host berlangsung bersamaan, tetapi klien berikut tidak menerima "
            "echo yang lengkap: {unechoed}."),
        Say("Let every client finish: a single-threaded server answers the second client only after the first has "
            "closed, so keep capturing until both are done.",
            "Biarkan setiap klien selesai: server single-thread baru menjawab klien kedua setelah klien pertama "
            "menutup koneksi, jadi teruskan penangkapan paket sampai keduanya selesai.")),
    "t4_same_host_not_all_echoed": Wording(
        Say("{n} connections to {server} overlapped, all from the same host ({host}), and these clients got no "
            "complete echo: {unechoed}.",
            "{n} koneksi ke {server} berlangsung bersamaan, semuanya dari host yang sama ({host}), dan klien "
            "berikut tidak menerima echo yang lengkap: {unechoed}."),
        Say("Run the two clients on mesin-2 and mesin-3, and keep capturing until both have finished.",
            "Jalankan kedua klien di mesin-2 dan mesin-3, dan teruskan penangkapan paket sampai keduanya selesai.")),
}
