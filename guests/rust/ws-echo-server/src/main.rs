//! `ws-echo-server ws-listen://IP:PORT [CLIENTS]`: a WebSocket echo server
//! through sandnet, on an address the policy grants.
//!
//! Prints `listening ws://IP:PORT` once bound, then serves every client at
//! once (waiting on the listener and all connections with `wasi:io/poll`):
//! each text or binary message is sent back; `client ADDR connected` and
//! `client ADDR closed CODE` are printed as clients come and go. With
//! CLIENTS, exits 0 after that many clients have closed; otherwise serves
//! forever. Exits 1 on a `net-error` binding (printed to stderr as
//! `ws-echo-server: <error>`), 2 on bad usage.

use std::io::Write;

use sandnet_guest::poll::wait_any;
use sandnet_guest::process::exit;
use sandnet_guest::websocket::{Connection, Listener, Message};

const USAGE: &str = "usage: ws-echo-server ws-listen://IP:PORT [CLIENTS]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (address, clients) = match args.as_slice() {
        [address] => (address, None),
        [address, n] => match n.parse::<u32>() {
            Ok(n) => (address, Some(n)),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    let listener = match Listener::bind(address) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("ws-echo-server: {err}");
            exit(1);
        }
    };
    println!("listening ws://{}", listener.local_address());
    let _ = std::io::stdout().flush();
    serve(&listener, clients);
}

fn usage() -> ! {
    eprintln!("ws-echo-server: {USAGE}");
    exit(2)
}

fn serve(listener: &Listener, clients: Option<u32>) {
    let mut conns: Vec<(Connection, String)> = Vec::new();
    let mut finished = 0;
    while clients.is_none_or(|n| finished < n) {
        let ready = {
            let listener_ready = listener.subscribe();
            let conn_ready: Vec<_> = conns.iter().map(|(c, _)| c.subscribe()).collect();
            let mut all = vec![&listener_ready];
            all.extend(conn_ready.iter());
            wait_any(&all)
        };
        let mut gone = Vec::new();
        for index in ready {
            if index == 0 {
                match listener.accept() {
                    Ok((conn, peer)) => {
                        println!("client {peer} connected");
                        conns.push((conn, peer));
                    }
                    Err(err) => eprintln!("ws-echo-server: accept: {err}"),
                }
                continue;
            }
            let (conn, peer) = &conns[index - 1];
            let echoed = match conn.receive() {
                Ok(Message::Text(text)) => conn.send_text(&text),
                Ok(Message::Binary(data)) => conn.send_binary(&data),
                Ok(Message::Close { code, .. }) => {
                    println!("client {peer} closed {code}");
                    gone.push(index - 1);
                    continue;
                }
                Err(err) => Err(err),
            };
            if let Err(err) = echoed {
                println!("client {peer} closed: {err}");
                gone.push(index - 1);
            }
        }
        gone.sort_unstable();
        for i in gone.into_iter().rev() {
            conns.remove(i);
            finished += 1;
        }
        let _ = std::io::stdout().flush();
    }
}
