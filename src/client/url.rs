//! Request URLs: the run's target split once ([`BaseUrl`]), and the forms a
//! request's URL is sent in (an absolute URI through hyper-util, an
//! origin-form request line on runner's own connections).

use std::borrow::Cow;
use std::ops::Range;

use hyper::Uri;

use super::{ClientError, HttpRequest};

/// The URL a request's path follows (a run's target, a listener's URL),
/// split once: no request looks for the host in its URL again.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    url: String,
    /// For `http://`: where the origin (`host:port`) sits in `url`.
    origin: Option<Range<usize>>,
    /// Where what follows the origin starts in `url`: the path prefix every
    /// request's path follows.
    path: usize,
}

impl BaseUrl {
    /// Splits `url` (scheme, host, port, and a path prefix if any).
    pub fn new(url: String) -> BaseUrl {
        let authority = url.find("://").map_or(url.len(), |at| at + 3);
        let path = url[authority..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |at| authority + at);
        // `user:pass@` is neither part of the address nor of the Host header.
        let host = url[authority..path]
            .rfind('@')
            .map_or(authority, |at| authority + at + 1);
        let origin = url.starts_with("http://").then_some(host..path);
        BaseUrl { url, origin, path }
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// For an `http://` URL, the origin to connect to and name in the Host
    /// header, and the path that starts every request's.
    pub fn plain(&self) -> Option<(&str, &str)> {
        self.origin
            .as_ref()
            .map(|origin| (&self.url[origin.clone()], &self.url[self.path..]))
    }
}

/// `request`'s URL with its query form-encoded onto it, as a URI. A path
/// with characters a URI may not hold (a space) is percent-encoded first, as
/// browsers do.
pub fn uri(request: &HttpRequest<'_>) -> Result<Uri, ClientError> {
    joined(request)?;
    Uri::try_from(with_query(request.url(), &request.query)).or_else(|_| {
        let encoded = url::Url::parse(&request.url()).map_err(|_| invalid_url())?;
        Uri::try_from(with_query(encoded.into(), &request.query)).map_err(|_| invalid_url())
    })
}

/// Fails a path that would run into the host: with no path after the
/// origin, the request's own must start one (`/`), or a query or fragment.
fn joined(request: &HttpRequest<'_>) -> Result<(), ClientError> {
    let path = &request.path;
    let bare = request.base.path == request.base.url.len();
    if bare && !path.is_empty() && !path.starts_with(['/', '?', '#']) {
        return Err(invalid_url());
    }
    Ok(())
}

fn invalid_url() -> ClientError {
    ClientError::Other("invalid URL (check the target and the step's path)".into())
}

/// The origin-form target of `request`'s request line: `base_path` (the
/// path of its base URL), its own path and its query. A path with
/// characters a URL may not hold as they are (a space, a quote, non-ASCII)
/// is percent-encoded first, as browsers do, and a `#fragment` is not sent.
pub fn origin_form(request: &HttpRequest<'_>, base_path: &str) -> Result<String, ClientError> {
    joined(request)?;
    let mut target = String::with_capacity(base_path.len() + request.path.len() + 64);
    target.push_str(base_path);
    target.push_str(&request.path);
    let mut target = with_query(target, &request.query);
    if !target.starts_with('/') {
        // Empty, or `?x=1` straight after the host.
        target.insert(0, '/');
    }
    let sent_as_is = |b: u8| b.is_ascii_graphic() && !b"\"#<>`{}".contains(&b);
    if target.bytes().all(sent_as_is) {
        return Ok(target);
    }
    let encoded =
        url::Url::parse(&with_query(request.url(), &request.query)).map_err(|_| invalid_url())?;
    Ok(encoded[url::Position::BeforePath..url::Position::AfterQuery].to_string())
}

/// `url` with `query` form-encoded onto it (the string becomes the URI's buffer).
fn with_query(mut url: String, query: &[(&str, Cow<str>)]) -> String {
    if query.is_empty() {
        return url;
    }
    let start = url.len() + 1;
    url.push(if url.contains('?') { '&' } else { '?' });
    let mut form = form_urlencoded::Serializer::for_suffix(url, start);
    for (k, v) in query {
        form.append_pair(k, v);
    }
    form.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, Cow<'a, str>)> {
        pairs.iter().map(|(k, v)| (*k, Cow::Borrowed(*v))).collect()
    }

    fn request<'a>(base: &'a BaseUrl, path: &str, query: &[(&'a str, &'a str)]) -> HttpRequest<'a> {
        HttpRequest {
            method: hyper::Method::GET,
            base,
            path: path.to_owned().into(),
            query: pairs(query),
            headers: Vec::new(),
            body: None,
            headers_read: false,
        }
    }

    #[test]
    fn queries_are_form_encoded_onto_the_url() {
        let base = BaseUrl::new("http://127.0.0.1:8080".into());
        let uri = |path: &str, query: &[(&str, &str)]| uri(&request(&base, path, query));
        let u = uri("/a/b", &[("q", "sim user"), ("page", "1")]).unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a/b?q=sim+user&page=1");
        let u = uri("/a?x=1", &[("y", "é&")]).unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a?x=1&y=%C3%A9%26");
        let u = uri("/a b", &[]).unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a%20b");
        assert!(uri("orders", &[]).is_err(), "a path running into the port");
        let tls = BaseUrl::new("https://h:8443".into());
        assert!(
            super::uri(&request(&tls, "orders", &[])).is_err(),
            "https too"
        );
        let prefixed = BaseUrl::new("https://h:8443/api".into());
        let u = super::uri(&request(&prefixed, "s", &[])).unwrap();
        assert_eq!(u.to_string(), "https://h:8443/apis");
        let bad = BaseUrl::new("not a url".into());
        assert!(super::uri(&request(&bad, "", &[])).is_err());
    }

    #[test]
    fn an_http_base_url_splits_into_its_origin_and_path() {
        for (url, origin, path) in [
            (
                "http://127.0.0.1:8080/a/b?x=1",
                "127.0.0.1:8080",
                "/a/b?x=1",
            ),
            (
                "http://user:p%40ss@127.0.0.1:8080/a",
                "127.0.0.1:8080",
                "/a",
            ),
            ("http://[::1]:9000?x=1", "[::1]:9000", "?x=1"),
            ("http://127.0.0.1", "127.0.0.1", ""),
        ] {
            assert_eq!(
                BaseUrl::new(url.into()).plain(),
                Some((origin, path)),
                "{url}"
            );
        }
        assert_eq!(BaseUrl::new("https://127.0.0.1/a".into()).plain(), None);
    }

    #[test]
    fn the_request_line_target_joins_the_base_path_the_path_and_the_query() {
        let form = |base: &str, path: &str, query: &[(&str, &str)]| {
            let base = BaseUrl::new(base.into());
            origin_form(&request(&base, path, query), base.plain().unwrap().1)
        };
        let ok = |base: &str, path: &str, query: &[(&str, &str)]| form(base, path, query).unwrap();
        assert_eq!(ok("http://h/api", "", &[]), "/api");
        assert_eq!(ok("http://h/api", "/a", &[("q", "x y")]), "/api/a?q=x+y");
        assert_eq!(ok("http://h/api", "?x=1", &[("y", "2")]), "/api?x=1&y=2");
        assert_eq!(ok("http://h/api", "/a b", &[]), "/api/a%20b");
        assert_eq!(ok("http://h/api", "/a\"b#top", &[]), "/api/a%22b");
        assert_eq!(ok("http://h/api", "/é?q=1#x", &[]), "/api/%C3%A9?q=1");
        assert_eq!(ok("http://h/api", "s", &[]), "/apis");
        assert_eq!(ok("http://h", "", &[]), "/");
        assert_eq!(ok("http://h", "?x=1", &[]), "/?x=1");
        assert!(
            form("http://h:8080", "orders", &[]).is_err(),
            "no path after the port"
        );
    }
}
