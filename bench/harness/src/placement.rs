//! Where each benchmark process runs: a network namespace (optional) and the address its
//! listeners bind to, per role. `make bench` leaves everything on one host address in the
//! current namespace; `make bench-testbed` puts the relay side and the load generator in the
//! cloud namespace, the connector side in the DMZ and the backend in corp, so every tunnelled
//! byte crosses the testbed's veths and its nftables firewall.

use crate::args::Args;
use serde_json::{json, Value};
use std::process::Command;

/// The three places of the testbed a benchmark process can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Relays, tunnel servers, the load generator: the side cloud applications live on.
    Cloud,
    /// Connectors and tunnel clients: dial out to the cloud, in to corp.
    Dmz,
    /// The backend the tunnels lead to.
    Corp,
}

impl Role {
    /// Lower-case name, as used in flags (`--netns-cloud`) and results.json.
    pub fn name(self) -> &'static str {
        match self {
            Role::Cloud => "cloud",
            Role::Dmz => "dmz",
            Role::Corp => "corp",
        }
    }

    /// Parses `cloud`, `dmz` or `corp`.
    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "cloud" => Ok(Role::Cloud),
            "dmz" => Ok(Role::Dmz),
            "corp" => Ok(Role::Corp),
            other => Err(format!(
                "unknown place '{other}': expected cloud, dmz or corp"
            )),
        }
    }
}

/// Namespace and listen address of every role, and where `direct` is measured from.
#[derive(Clone, Debug)]
pub struct Placement {
    cloud_host: String,
    corp_host: String,
    /// The DMZ's own address, for the record only: nothing listens there.
    dmz_host: Option<String>,
    netns: [Option<String>; 3],
    /// The role whose namespace runs the load generator for the `direct` contender.
    pub direct_from: Role,
}

fn slot(role: Role) -> usize {
    match role {
        Role::Cloud => 0,
        Role::Dmz => 1,
        Role::Corp => 2,
    }
}

impl Placement {
    /// Everything on `host` in the current namespace (what `make bench` does).
    pub fn local(host: &str) -> Placement {
        Placement {
            cloud_host: host.to_string(),
            corp_host: host.to_string(),
            dmz_host: None,
            netns: [None, None, None],
            direct_from: Role::Cloud,
        }
    }

    /// From `--host H` (default 127.0.0.1), `--cloud-host`, `--corp-host` (each defaults to
    /// `--host`), `--dmz-host` (recorded only), `--netns-cloud/-dmz/-corp NS` and
    /// `--direct-from cloud|dmz`.
    pub fn from_args(a: &Args) -> Result<Placement, String> {
        let host = a.opt("host").unwrap_or("127.0.0.1");
        let mut p = Placement::local(host);
        if let Some(h) = a.opt("cloud-host") {
            p.cloud_host = h.to_string();
        }
        if let Some(h) = a.opt("corp-host") {
            p.corp_host = h.to_string();
        }
        p.dmz_host = a.opt("dmz-host").map(str::to_string);
        for role in [Role::Cloud, Role::Dmz, Role::Corp] {
            if let Some(ns) = a.opt(&format!("netns-{}", role.name())) {
                if ns.is_empty() || ns.contains('/') || ns == "true" {
                    return Err(format!(
                        "--netns-{} '{ns}': give the name of a network namespace (as in `ip netns list`)",
                        role.name()
                    ));
                }
                p.netns[slot(role)] = Some(ns.to_string());
            }
        }
        if let Some(d) = a.opt("direct-from") {
            p.direct_from = Role::parse(d)?;
            if p.direct_from == Role::Corp {
                return Err(
                    "--direct-from corp: the load generator must not share the backend's namespace; use cloud or dmz".into(),
                );
            }
        }
        Ok(p)
    }

    /// The address listeners of `role` bind to and the others dial. The DMZ listens on
    /// nothing (its processes only dial out): its `--dmz-host` if given, else the cloud's.
    pub fn host(&self, role: Role) -> &str {
        match role {
            Role::Corp => &self.corp_host,
            Role::Cloud => &self.cloud_host,
            Role::Dmz => self.dmz_host.as_deref().unwrap_or(&self.cloud_host),
        }
    }

    /// The namespace `role` runs in, if any.
    pub fn netns(&self, role: Role) -> Option<&str> {
        self.netns[slot(role)].as_deref()
    }

    /// True when any role runs in a network namespace (the testbed run).
    pub fn uses_netns(&self) -> bool {
        self.netns.iter().any(Option::is_some)
    }

    /// A command that runs `program` in `role`'s place: `ip netns exec NS program` when the
    /// role has a namespace (`ip` execs the program, so the child's pid is the program's and
    /// /proc sampling and kill work unchanged), else `program` itself.
    pub fn command(&self, role: Role, program: &std::path::Path) -> Command {
        match self.netns(role) {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// The placement as results.json records it (`null` for the plain loopback run).
    pub fn describe(&self) -> Value {
        if !self.uses_netns() {
            return Value::Null;
        }
        let role = |r: Role| json!({ "netns": self.netns(r), "host": self.host(r) });
        json!({
            "cloud": role(Role::Cloud),
            "dmz": role(Role::Dmz),
            "corp": role(Role::Corp),
            "direct_from": self.direct_from.name(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn args(s: &str) -> Args {
        let v: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        Args::parse(&v).expect("args")
    }

    fn argv(c: &Command) -> Vec<String> {
        std::iter::once(c.get_program())
            .chain(c.get_args())
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn plain_run_stays_in_this_namespace_on_one_host() {
        let p = Placement::from_args(&args("--host 127.0.0.2")).expect("placement");
        assert_eq!(p.host(Role::Corp), "127.0.0.2");
        assert_eq!(p.host(Role::Cloud), "127.0.0.2");
        assert!(!p.uses_netns());
        assert!(p.describe().is_null());
        assert_eq!(
            argv(&p.command(Role::Dmz, Path::new("/bin/loadgen"))),
            ["/bin/loadgen"]
        );
    }

    #[test]
    fn testbed_roles_get_their_namespace_and_address() {
        let p = Placement::from_args(&args(
            "--cloud-host 198.18.1.2 --corp-host 198.18.3.2 --dmz-host 198.18.2.2 --netns-cloud sp-cloud \
             --netns-dmz sp-dmz --netns-corp sp-corp --direct-from dmz",
        ))
        .expect("placement");
        assert_eq!(p.host(Role::Cloud), "198.18.1.2");
        assert_eq!(p.host(Role::Corp), "198.18.3.2");
        assert_eq!(p.host(Role::Dmz), "198.18.2.2");
        assert_eq!(p.direct_from, Role::Dmz);
        assert_eq!(
            argv(&p.command(Role::Dmz, Path::new("/x/sallyport"))),
            ["ip", "netns", "exec", "sp-dmz", "/x/sallyport"]
        );
        assert_eq!(p.describe()["corp"]["netns"], "sp-corp");
        assert_eq!(p.describe()["direct_from"], "dmz");
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_named() {
        let e = Placement::from_args(&args("--netns-dmz")).expect_err("no value");
        assert!(e.contains("--netns-dmz"), "{e}");
        let e = Placement::from_args(&args("--direct-from corp")).expect_err("corp");
        assert!(e.contains("--direct-from corp"), "{e}");
        let e = Placement::from_args(&args("--direct-from moon")).expect_err("moon");
        assert!(e.contains("moon"), "{e}");
    }
}
