//! Many HTTP targets on loopback for `bench/probe-scale.sh`: one listener
//! per address 127.X.Y.Z on one port (Linux answers every 127/8 address on
//! `lo`, so nothing needs configuring), each answering every request on a
//! kept-alive connection with `200 ok`, on one thread. Not part of
//! meridian; a load generator's counterpart.
//!
//! `probe_targets FIRST COUNT PORT`: COUNT addresses from FIRST (e.g.
//! `127.1.0.1 10000 18080`), skipping .0 and .255 in the last octet.

use std::net::Ipv4Addr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(first), Some(count), Some(port)) = (
        args.get(1).and_then(|a| a.parse::<Ipv4Addr>().ok()),
        args.get(2).and_then(|a| a.parse::<u32>().ok()),
        args.get(3).and_then(|a| a.parse::<u16>().ok()),
    ) else {
        eprintln!("usage: probe_targets FIRST_ADDRESS COUNT PORT");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut addr = u32::from(first);
        for _ in 0..count {
            while matches!(addr & 0xff, 0 | 255) {
                addr += 1;
            }
            let listener = TcpListener::bind((Ipv4Addr::from(addr), port)).await?;
            tokio::spawn(accept(listener));
            addr += 1;
        }
        println!("listening on {count} addresses from {first}, port {port}");
        std::future::pending::<()>().await;
        Ok(())
    })
}

async fn accept(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve(stream));
    }
}

async fn serve(mut stream: tokio::net::TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    loop {
        match stream.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
        // Answer each complete request head (no bodies: GET and HEAD).
        while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            if stream.write_all(REPLY).await.is_err() {
                return;
            }
            buf.copy_within(end + 4..have, 0);
            have -= end + 4;
        }
        if have == buf.len() {
            return;
        }
    }
}
