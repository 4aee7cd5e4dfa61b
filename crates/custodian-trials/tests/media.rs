//! The media store interface, on the local directory and in memory: put,
//! get, head, a missing object and a refused path; Custodian's signed URLs
//! round-trip and refuse tampering; an S3 store (feature `s3`) presigns
//! without touching the network.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::time::Duration;

use custodian_trials::media::{MEDIA_PREFIX, Media, MediaError, Refused};

const KEY: [u8; 32] = [9; 32];
const TTL: Duration = Duration::from_secs(300);

fn stores() -> (Vec<Media>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("custodian-media-{}", uuid::Uuid::now_v7()));
    let local = Media::local(&dir, KEY, TTL).unwrap();
    (vec![local, Media::memory(KEY, TTL)], dir)
}

#[tokio::test]
async fn each_store_puts_gets_heads_and_refuses_bad_paths() {
    let (stores, dir) = stores();
    for m in stores {
        let who = m.name().to_owned();
        m.put("calls/2031/c1.wav", b"RIFF demo".to_vec())
            .await
            .unwrap();
        let got = m.get("calls/2031/c1.wav", None).await.unwrap();
        assert_eq!(got.bytes().await.unwrap().as_ref(), b"RIFF demo", "{who}");
        let part = m
            .get(
                "calls/2031/c1.wav",
                Some(object_store::GetRange::Bounded(0..4)),
            )
            .await
            .unwrap();
        assert_eq!(part.bytes().await.unwrap().as_ref(), b"RIFF", "{who}");
        let meta = m.head("calls/2031/c1.wav").await.unwrap().unwrap();
        assert_eq!(meta.size, 9, "{who}");
        assert!(m.head("calls/none.wav").await.unwrap().is_none(), "{who}");
        assert!(
            matches!(
                m.get("calls/none.wav", None).await,
                Err(MediaError::NotFound(_))
            ),
            "{who}"
        );
        for bad in [
            "../secret.wav",
            "/etc/passwd",
            "calls//c1.wav",
            "https://x/c1.wav",
            "",
        ] {
            assert!(
                matches!(m.head(bad).await, Err(MediaError::BadPath(_))),
                "{who}: {bad:?}"
            );
            assert!(
                matches!(m.put(bad, b"x".to_vec()).await, Err(MediaError::BadPath(_))),
                "{who}: {bad:?}"
            );
            assert!(
                matches!(m.get(bad, None).await, Err(MediaError::BadPath(_))),
                "{who}: {bad:?}"
            );
            assert!(
                matches!(
                    m.sign(bad, chrono::Utc::now()).await,
                    Err(MediaError::BadPath(_))
                ),
                "{who}: {bad:?}"
            );
        }
    }
    // The local store's objects are files under its directory.
    assert_eq!(
        std::fs::read(dir.join("calls/2031/c1.wav")).unwrap(),
        b"RIFF demo"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn parts(url: &str) -> (String, i64, String) {
    let (path, query) = url
        .strip_prefix(MEDIA_PREFIX)
        .and_then(|u| u.split_once('?'))
        .unwrap();
    let (e, sig) = query.split_once("&sig=").unwrap();
    let expires = e.strip_prefix("expires=").unwrap().parse().unwrap();
    (path.to_owned(), expires, sig.to_owned())
}

#[tokio::test]
async fn the_local_stores_urls_round_trip_and_refuse_tampering() {
    let (stores, dir) = stores();
    let now = chrono::Utc::now();
    for m in stores {
        m.put("calls/c1.wav", b"x".to_vec()).await.unwrap();
        let signed = m.sign("calls/c1.wav", now).await.unwrap();
        let (path, expires, sig) = parts(&signed.url);
        assert_eq!(path, "calls/c1.wav");
        assert_eq!(m.verify(&path, expires, &sig, now), Ok(()));
        assert_eq!(
            m.verify("calls/c2.wav", expires, &sig, now),
            Err(Refused::BadSignature)
        );
        assert_eq!(
            m.verify(&path, expires + 60, &sig, now),
            Err(Refused::BadSignature)
        );
        assert!(matches!(
            m.verify(&path, expires, &sig, now + chrono::Duration::seconds(301)),
            Err(Refused::Expired(_))
        ));
        let other = Media::memory([1; 32], TTL);
        assert_eq!(
            other.verify(&path, expires, &sig, now),
            Err(Refused::BadSignature)
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn an_s3_store_presigns_a_get_without_the_network() {
    use custodian_trials::media::{MediaSettings, StoreKind};
    let settings = MediaSettings {
        kind: StoreKind::S3,
        dir: "unused".into(),
        bucket: Some("recordings".into()),
        endpoint: Some("http://127.0.0.1:9".into()),
        region: Some("us-east-2".into()),
        url_ttl: TTL,
    };
    let env = |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("dummy-secret-key".to_owned()),
        _ => None,
    };
    let m = Media::from_settings(&settings, KEY, env).unwrap();
    let debug = format!("{m:?}");
    assert!(
        !debug.contains("dummy-secret-key") && !debug.contains("AKIDEXAMPLE"),
        "{debug}"
    );
    let now = chrono::Utc::now();
    let signed = m.sign("calls/c1.wav", now).await.unwrap();
    assert!(
        signed
            .url
            .starts_with("http://127.0.0.1:9/recordings/calls/c1.wav?"),
        "{}",
        signed.url
    );
    assert!(signed.url.contains("X-Amz-Signature="), "{}", signed.url);
    assert!(signed.url.contains("X-Amz-Expires=300"), "{}", signed.url);
    assert!(!signed.url.contains("dummy-secret-key"), "{}", signed.url);
    // Custodian's own route serves none of the store's objects.
    assert_eq!(
        m.verify("calls/c1.wav", now.timestamp() + 60, "00", now),
        Err(Refused::BadSignature)
    );
    // Paths are checked before the store sees them.
    assert!(matches!(
        m.sign("../x.wav", now).await,
        Err(MediaError::BadPath(_))
    ));
    // Half the credentials is refused, naming the variables, not values.
    let half = |k: &str| (k == "AWS_ACCESS_KEY_ID").then(|| "AKIDEXAMPLE".to_owned());
    let err = Media::from_settings(&settings, KEY, half)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("AWS_SECRET_ACCESS_KEY") && !err.contains("AKIDEXAMPLE"),
        "{err}"
    );
    // None at all is refused too, rather than left to instance metadata.
    let err = Media::from_settings(&settings, KEY, |_| None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
}
