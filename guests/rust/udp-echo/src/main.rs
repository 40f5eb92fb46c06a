//! `udp-echo server udp-bind://ADDR:PORT [COUNT]` or
//! `udp-echo client udp://HOST:PORT MESSAGE...`: UDP echo through sandnet.
//!
//! The server binds (grant needed; port 0 picks a free port), prints
//! `listening on IP:PORT`, sends every datagram back to its sender (which the
//! policy must grant as a destination too) and prints `echoed N bytes to
//! SENDER`; it exits after COUNT datagrams (default: runs until stopped).
//! The client sends each MESSAGE from an ephemeral port (no bind grant) and
//! prints each reply. Exits 1 on a `net-error`, 2 on bad usage.
//!
//! Optional environment: `UDP_ECHO_TIMEOUT_MS`, the client's wait per reply.

use sandnet_guest::process::exit;
use sandnet_guest::udp::UdpSocket;

const USAGE: &str = "usage: udp-echo server udp-bind://ADDR:PORT [COUNT] | udp-echo client udp://HOST:PORT MESSAGE...";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [mode, address] if mode == "server" => server(address, None),
        [mode, address, count] if mode == "server" => match count.parse() {
            Ok(n) => server(address, Some(n)),
            Err(_) => usage(),
        },
        [mode, target, messages @ ..] if mode == "client" && !messages.is_empty() => {
            client(target, messages)
        }
        _ => usage(),
    };
    if let Err(err) = result {
        eprintln!("udp-echo: {err}");
        exit(1);
    }
}

fn usage() -> ! {
    eprintln!("udp-echo: {USAGE}");
    exit(2);
}

fn server(address: &str, count: Option<u32>) -> sandnet_guest::Result<()> {
    let socket = UdpSocket::bind(address)?;
    println!("listening on {}", socket.local_address());
    let mut echoed = 0;
    while count.is_none_or(|n| echoed < n) {
        socket.subscribe().block(); // wait as long as it takes
        let datagram = socket.receive(None)?;
        socket.send_to(&format!("udp://{}", datagram.sender), &datagram.data)?;
        println!(
            "echoed {} bytes to {}",
            datagram.data.len(),
            datagram.sender
        );
        echoed += 1;
    }
    Ok(())
}

fn client(target: &str, messages: &[String]) -> sandnet_guest::Result<()> {
    let timeout = std::env::var("UDP_ECHO_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok());
    let socket = UdpSocket::ephemeral()?;
    for message in messages {
        socket.send_to(target, message.as_bytes())?;
        let reply = socket.receive(timeout)?;
        println!("{}", String::from_utf8_lossy(&reply.data));
    }
    Ok(())
}
