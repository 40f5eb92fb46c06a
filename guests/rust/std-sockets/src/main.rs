//! `std-sockets SCENARIO ADDR [ARGS...]`: Rust's `std::net` (the standard
//! `wasi:sockets/tcp` and `wasi:sockets/udp` underneath, no `sandnet:net`
//! import) driving the guest's limits. Prints one line per step and exits 0
//! whatever the host refused; exits 2 on bad usage.
//!
//! - `connect-twice ADDR`: connects, connects again while the first connection
//!   lives (`second: connected` or `second: refused: ERR`), drops both, then
//!   connects a third time (`third: ...`).
//! - `tcp ADDR BYTES`: connects, sends BYTES bytes (`sent N` or `send failed:
//!   ERR`), shuts down its write half, then reads to the end (`received N` or
//!   `receive failed after N: ERR`).
//! - `accept ADDR COUNT`: listens on ADDR (`listening LOCAL-ADDR`), then tries
//!   COUNT accepts (`accepted` or `accept failed: ERR`), keeping every accepted
//!   connection open until it exits.
//! - `udp ADDR SIZE...`: binds an ephemeral port and, for each SIZE, sends a
//!   datagram of that many bytes (`sent SIZE` or `send SIZE failed: ERR`); after
//!   a send it prints the size of each datagram that comes back (`received N`)
//!   until one reading `end` (`end`), or `receive failed: ERR` and stops.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;

const USAGE: &str =
    "usage: std-sockets connect-twice ADDR | tcp ADDR BYTES | accept ADDR COUNT | udp ADDR SIZE...";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Option<Vec<usize>> = args.iter().skip(2).map(|a| a.parse().ok()).collect();
    match (args.first().map(String::as_str), args.get(1), sizes) {
        (Some("connect-twice"), Some(addr), Some(rest)) if rest.is_empty() => connect_twice(addr),
        (Some("tcp"), Some(addr), Some(rest)) if rest.len() == 1 => tcp(addr, rest[0]),
        (Some("accept"), Some(addr), Some(rest)) if rest.len() == 1 => accept(addr, rest[0]),
        (Some("udp"), Some(addr), Some(rest)) if !rest.is_empty() => udp(addr, &rest),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

fn report(step: &str, result: std::io::Result<TcpStream>) -> Option<TcpStream> {
    match result {
        Ok(stream) => {
            println!("{step}: connected");
            Some(stream)
        }
        Err(err) => {
            println!("{step}: refused: {err}");
            None
        }
    }
}

fn connect_twice(addr: &str) {
    let first = report("first", TcpStream::connect(addr));
    let second = report("second", TcpStream::connect(addr));
    drop(second);
    drop(first);
    drop(report("third", TcpStream::connect(addr)));
}

fn tcp(addr: &str, bytes: usize) {
    let Some(mut stream) = report("tcp", TcpStream::connect(addr)) else {
        return;
    };
    match stream.write_all(&vec![b'x'; bytes]) {
        Ok(()) => println!("sent {bytes}"),
        Err(err) => println!("send failed: {err}"),
    }
    // The peer may have closed already; its reply (or the error) is what matters.
    let _ = stream.shutdown(Shutdown::Write);
    let mut received = 0;
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(err) => {
                println!("receive failed after {received}: {err}");
                return;
            }
        }
    }
    println!("received {received}");
}

fn accept(addr: &str, count: usize) {
    let listener = match TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(err) => {
            println!("listen failed: {err}");
            return;
        }
    };
    match listener.local_addr() {
        Ok(local) => println!("listening {local}"),
        Err(err) => println!("listening (address unknown: {err})"),
    }
    let mut open = Vec::new();
    for _ in 0..count {
        match listener.accept() {
            Ok((stream, _)) => {
                println!("accepted");
                open.push(stream);
            }
            Err(err) => println!("accept failed: {err}"),
        }
    }
}

fn udp(addr: &str, sizes: &[usize]) {
    let socket = match UdpSocket::bind("0.0.0.0:0") {
        Ok(socket) => socket,
        Err(err) => {
            println!("bind failed: {err}");
            return;
        }
    };
    let mut buf = vec![0u8; 65536];
    for &size in sizes {
        if let Err(err) = socket.send_to(&vec![b'u'; size], addr) {
            println!("send {size} failed: {err}");
            continue;
        }
        println!("sent {size}");
        loop {
            match socket.recv_from(&mut buf) {
                Ok((n, _)) if &buf[..n] == b"end" => {
                    println!("end");
                    break;
                }
                Ok((n, _)) => println!("received {n}"),
                Err(err) => {
                    println!("receive failed: {err}");
                    return;
                }
            }
        }
    }
}
