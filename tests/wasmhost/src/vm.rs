//! One plugin VM on one worker, driven the way Envoy drives it: `_initialize`, the root
//! context, `proxy_on_vm_start`, `proxy_on_configure`; then per request a context, its header
//! callback, the root's queue and callout events while it waits, and its teardown.

use anyhow::{anyhow, bail, Result};
use wasmi::{Engine, Linker, Module, Store, Val};

use crate::abi::{Action, HostCall, Pairs};
use crate::host::{self, Host, HttpCall, LocalResponse, Stream};

pub struct FilterVm {
    store: Store<Host>,
    instance: wasmi::Instance,
    root: u32,
    next_id: u32,
}

/// What happened to one request, and every host call made while it was alive.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub id: u32,
    /// What `proxy_on_request_headers` returned.
    pub action: Action,
    pub local_response: Option<LocalResponse>,
    /// A paused request was resumed (`proxy_continue_stream`).
    pub resumed: bool,
    /// The request headers as the filter left them (what the upstream would see).
    pub upstream_headers: Vec<(String, String)>,
    pub calls: Vec<HostCall>,
}

impl RequestRecord {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.upstream_headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request whose header callback has run; `FilterVm::finish` ends it.
pub struct Started {
    pub id: u32,
    pub action: Action,
    mark: usize,
}

impl FilterVm {
    /// Instantiates `wasm` with every import it declares linked to the recording host, and
    /// configures it; fails if `proxy_on_configure` refuses the configuration.
    pub fn load(wasm: &[u8], plugin_config: &str) -> Result<FilterVm> {
        Self::load_with(wasm, plugin_config, |_| {})
    }

    /// The names the module exports: which callbacks Envoy will enter it for.
    pub fn exports(wasm: &[u8]) -> Result<Vec<String>> {
        let module =
            Module::new(&Engine::default(), wasm).map_err(|e| anyhow!("invalid module: {e}"))?;
        Ok(module.exports().map(|e| e.name().to_string()).collect())
    }

    /// As [`FilterVm::load`], with the host prepared by `prepare` before the module runs: a
    /// log level (read once, in `proxy_on_configure`), another VM's shared data (another
    /// worker of the same plugin: same HMAC key, same verdict cache).
    pub fn load_with(
        wasm: &[u8],
        plugin_config: &str,
        prepare: impl FnOnce(&mut Host),
    ) -> Result<FilterVm> {
        let engine = Engine::default();
        let module = Module::new(&engine, wasm).map_err(|e| anyhow!("invalid module: {e}"))?;
        let mut linker = Linker::<Host>::new(&engine);
        for import in module.imports() {
            let Some(ty) = import.ty().func() else {
                bail!(
                    "import {}.{} is not a function",
                    import.module(),
                    import.name()
                );
            };
            let (m, n) = (import.module().to_string(), import.name().to_string());
            linker
                .func_new(
                    &m.clone(),
                    &n.clone(),
                    ty.clone(),
                    move |mut caller, params, results| {
                        let args: Vec<u64> = params.iter().map(widen).collect();
                        let host = caller.data();
                        let fails = host.failing.contains(&n.as_str())
                            || host.fail_when.as_ref().is_some_and(|f| f(&n, &args));
                        let status = if fails {
                            host::fail(&mut caller, &m, &n)
                        } else {
                            host::handle(&mut caller, &m, &n, &args)?
                        };
                        if let (Some(slot), Some(s)) = (results.first_mut(), status) {
                            *slot = Val::I32(s);
                        }
                        Ok(())
                    },
                )
                .map_err(|e| anyhow!("link {}.{}: {e}", import.module(), import.name()))?;
        }
        let mut data = Host::new(plugin_config);
        prepare(&mut data);
        // Shared data copied from another VM keeps its versions; new ones come after them.
        data.cas = data
            .shared
            .values()
            .map(|(_, v)| *v)
            .fold(data.cas, u32::max);
        let mut store = Store::new(&engine, data);
        let instance = linker
            .instantiate_and_start(&mut store, &module)
            .map_err(|e| anyhow!("instantiate: {e}"))?;
        let mut vm = FilterVm {
            store,
            instance,
            root: 1,
            next_id: 2,
        };
        vm.store.data_mut().root_id = vm.root;
        for start in ["_initialize", "_start"] {
            if vm.instance.get_func(&vm.store, start).is_some() {
                vm.call("_initialize", start, &[], 0)?;
                break;
            }
        }
        let root = vm.root;
        vm.call(
            "on_context_create",
            "proxy_on_context_create",
            &[root, 0],
            root,
        )?;
        vm.call("on_vm_start", "proxy_on_vm_start", &[root, 0], root)?;
        let size = vm.store.data().plugin_config.len() as u32;
        let ok = vm.call("on_configure", "proxy_on_configure", &[root, size], root)?;
        if ok != Some(1) {
            bail!(
                "proxy_on_configure refused the configuration (logs: {:?})",
                vm.host().logs
            );
        }
        Ok(vm)
    }

    /// The root context's id (callouts' answers and queue events go to it).
    pub fn root_id(&self) -> u32 {
        self.root
    }

    pub fn host(&self) -> &Host {
        self.store.data()
    }

    pub fn host_mut(&mut self) -> &mut Host {
        self.store.data_mut()
    }

    /// Calls an export as the callback `during` on context `effective`, then delivers the
    /// queue events it caused to the root context, as Envoy's dispatcher does next.
    fn call(
        &mut self,
        during: &'static str,
        export: &str,
        args: &[u32],
        effective: u32,
    ) -> Result<Option<i32>> {
        let func = self
            .instance
            .get_func(&self.store, export)
            .ok_or_else(|| anyhow!("the module does not export {export}"))?;
        let ty = func.ty(&self.store);
        let params: Vec<Val> = args.iter().map(|a| Val::I32(*a as i32)).collect();
        let mut results: Vec<Val> = ty
            .results()
            .iter()
            .map(|t| Val::default_for_ty(*t))
            .collect();
        let host = self.store.data_mut();
        host.during = during;
        host.effective = effective;
        if let Err(e) = func.call(&mut self.store, &params, &mut results) {
            // The filter's panic hook logs the panic just before the abort traps.
            let last = self
                .host()
                .logs
                .last()
                .map(|(_, l)| l.as_str())
                .unwrap_or("-");
            bail!("{export} trapped: {e} (last log line: {last})");
        }
        let out = results.first().and_then(Val::i32);
        self.deliver_queues()?;
        Ok(out)
    }

    fn deliver_queues(&mut self) -> Result<()> {
        while let Some(queue) = self.store.data_mut().ready.pop() {
            let root = self.root;
            self.call(
                "on_queue_ready",
                "proxy_on_queue_ready",
                &[root, queue],
                root,
            )?;
        }
        Ok(())
    }

    /// A new request with these headers (names lowercase, as Envoy hands them over) through
    /// context creation and `proxy_on_request_headers` (end of stream: a GET).
    pub fn start(&mut self, headers: &[(&str, &str)]) -> Result<Started> {
        let id = self.next_id;
        self.next_id += 1;
        let mark = self.host().calls.len();
        let request_headers: Pairs = headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let n = request_headers.len() as u32;
        self.host_mut().streams.insert(
            id,
            Stream {
                request_headers,
                ..Stream::default()
            },
        );
        let root = self.root;
        self.call(
            "on_context_create",
            "proxy_on_context_create",
            &[id, root],
            id,
        )?;
        let action = self.call(
            "on_request_headers",
            "proxy_on_request_headers",
            &[id, n, 1],
            id,
        )?;
        Ok(Started {
            id,
            action: Action::from_wasm(action.unwrap_or(0)),
            mark,
        })
    }

    /// The callouts dispatched so far.
    pub fn http_calls(&self) -> &[HttpCall] {
        &self.host().http_calls
    }

    /// Delivers a callout's answer to the root context, as Envoy does when the cluster answers.
    pub fn answer(&mut self, token: u32, status: u16, body: &[u8]) -> Result<()> {
        let headers = vec![
            (b":status".to_vec(), status.to_string().into_bytes()),
            (b"content-type".to_vec(), b"application/json".to_vec()),
        ];
        let n = headers.len() as u32;
        self.host_mut().callout_response = (headers, body.to_vec());
        let root = self.root;
        let args = [root, token, n, body.len() as u32, 0];
        self.call(
            "on_http_call_response",
            "proxy_on_http_call_response",
            &args,
            root,
        )?;
        Ok(())
    }

    /// The rest of the request's life: the response (the local reply or the upstream's 200)
    /// through `proxy_on_response_headers`, then `proxy_on_log`, `proxy_on_done`,
    /// `proxy_on_delete`, each only if the module exports it (Envoy skips the others). Returns what the filter did and every call since `start`.
    pub fn finish(&mut self, started: Started) -> Result<RequestRecord> {
        let id = started.id;
        let stream = self.host().streams.get(&id).cloned().unwrap_or_default();
        let status = stream
            .local_response
            .as_ref()
            .map(|r| r.status)
            .unwrap_or(200);
        if let Some(s) = self.host_mut().streams.get_mut(&id) {
            s.response_headers = vec![(b":status".to_vec(), status.to_string().into_bytes())];
        }
        let exported = |vm: &Self, name: &str| vm.instance.get_func(&vm.store, name).is_some();
        if exported(self, "proxy_on_response_headers") {
            self.call(
                "on_response_headers",
                "proxy_on_response_headers",
                &[id, 1, 1],
                id,
            )?;
        }
        for (during, export) in [
            ("on_log", "proxy_on_log"),
            ("on_done", "proxy_on_done"),
            ("on_delete", "proxy_on_delete"),
        ] {
            if exported(self, export) {
                self.call(during, export, &[id], id)?;
            }
        }
        let host = self.host_mut();
        let stream = host.streams.remove(&id).unwrap_or_default();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(RequestRecord {
            id,
            action: started.action,
            local_response: stream.local_response,
            resumed: stream.resumed,
            upstream_headers: stream
                .request_headers
                .iter()
                .map(|(k, v)| (text(k), text(v)))
                .collect(),
            calls: host.calls.get(started.mark..).unwrap_or_default().to_vec(),
        })
    }
}

fn widen(v: &Val) -> u64 {
    match v {
        Val::I32(x) => u64::from(*x as u32),
        Val::I64(x) => *x as u64,
        _ => 0,
    }
}
