// The game's entry point: one manager per player and database file.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Cairn
{
    // What decides conflicts when a sync has no OnConflict callback.
    public enum ConflictResolver
    {
        ThreeWayMerge = 0,    // JSON values merged field by field against the last synced value
        LastWriterWins = 1,
        Remote = 2,
        Local = 3,
    }

    public sealed class SyncManagerOptions
    {
        // A cairn-server URL, or null for Amazon Cognito in Region.
        public string Endpoint { get; set; }
        public string Region { get; set; }
        public string IdentityPoolId { get; set; }
        // The device's database file; null or ":memory:" keeps it in memory.
        public string DatabasePath { get; set; }
        // The Cognito Identity flow: provider name to token.
        public IDictionary<string, string> Logins { get; } = new Dictionary<string, string>();
        // Or developer credentials for a known identity: all of AccessKeyId, SecretAccessKey and
        // IdentityId (SessionToken may be null).
        public string AccessKeyId { get; set; }
        public string SecretAccessKey { get; set; }
        public string SessionToken { get; set; }
        public string IdentityId { get; set; }
        public ConflictResolver Resolver { get; set; } = ConflictResolver.ThreeWayMerge;
        // True: sync callbacks run only inside RunPendingCallbacks, on the thread that calls it
        // (Unity's main thread, from Update). False: on cairn's sync thread.
        public bool CallbacksOnRunPendingCallbacks { get; set; }
        // True: each Put reaches the disk before it returns, so it survives a power cut, at a
        // cost per Put (docs/localstore.md). False: it survives the game crashing, and a power
        // cut may take back the last Puts.
        public bool DurableWrites { get; set; }
    }

    public sealed class SyncManager : IDisposable
    {
        private readonly ManagerHandle handle_;
        private readonly List<Dataset> datasets_ = new List<Dataset>();
        private readonly HashSet<SyncState> syncs_ = new HashSet<SyncState>();
        private readonly object lock_ = new object();

        private SyncManager(ManagerHandle handle) { handle_ = handle; }

        public static string NativeVersion => Utf8.Read(Native.cairn_version());

        public static SyncManager Open(SyncManagerOptions options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            var o = new Native.Options();
            Native.cairn_options_init(ref o);
            var owned = new List<IntPtr>();
            Func<string, IntPtr> A = s =>
            {
                IntPtr p = Utf8.Alloc(s);
                if (p != IntPtr.Zero) owned.Add(p);
                return p;
            };
            try
            {
                o.Endpoint = A(options.Endpoint);
                o.Region = A(options.Region);
                o.IdentityPoolId = A(options.IdentityPoolId);
                o.DatabasePath = A(options.DatabasePath);
                o.AccessKeyId = A(options.AccessKeyId);
                o.SecretAccessKey = A(options.SecretAccessKey);
                o.SessionToken = A(options.SessionToken);
                o.IdentityId = A(options.IdentityId);
                o.Resolver = (int)options.Resolver;
                o.Delivery = options.CallbacksOnRunPendingCallbacks ? 1 : 0;
                o.DurableWrites = options.DurableWrites ? 1 : 0;
                int n = options.Logins.Count;
                if (n > 0)
                {
                    o.LoginProviders = Marshal.AllocHGlobal(IntPtr.Size * n);
                    owned.Add(o.LoginProviders);
                    o.LoginTokens = Marshal.AllocHGlobal(IntPtr.Size * n);
                    owned.Add(o.LoginTokens);
                    int i = 0;
                    foreach (var login in options.Logins)
                    {
                        Marshal.WriteIntPtr(o.LoginProviders, i * IntPtr.Size, A(login.Key));
                        Marshal.WriteIntPtr(o.LoginTokens, i * IntPtr.Size, A(login.Value));
                        ++i;
                    }
                    o.LoginCount = (UIntPtr)n;
                }
                int code = Native.cairn_manager_open(ref o, out IntPtr manager, out IntPtr error);
                CairnException.Check(code, error);
                return new SyncManager(new ManagerHandle(manager));
            }
            finally
            {
                foreach (IntPtr p in owned) Marshal.FreeHGlobal(p);
            }
        }

        // The identity id, asking Cognito Identity first if none is known yet.
        public string IdentityId
        {
            get
            {
                int code = Native.cairn_identity_id(Handle, out IntPtr id, out IntPtr error);
                CairnException.Check(code, error);
                return Utf8.Take(id);
            }
        }

        public void SetNetworkReachable(bool reachable) =>
            Native.cairn_set_network_reachable(Handle, reachable ? 1 : 0);

        // Runs the callbacks queued when CallbacksOnRunPendingCallbacks is set; how many ran.
        public int RunPendingCallbacks() => (int)Native.cairn_run_pending_callbacks(Handle);

        public Dataset OpenDataset(string name)
        {
            int code = Native.cairn_dataset_open(Handle, Utf8.Bytes(name), out IntPtr dataset,
                                                 out IntPtr error);
            CairnException.Check(code, error);
            var d = new Dataset(this, new DatasetHandle(dataset), name);
            lock (lock_) datasets_.Add(d);
            return d;
        }

        // platform: "APNS", "APNS_SANDBOX", "GCM" or "ADM". Returns the device id.
        public string RegisterDevice(string platform, string token)
        {
            int code = Native.cairn_register_device(Handle, Utf8.Bytes(platform), Utf8.Bytes(token),
                                                    out IntPtr id, out IntPtr error);
            CairnException.Check(code, error);
            return Utf8.Take(id);
        }

        public void Subscribe(string dataset)
        {
            int code = Native.cairn_subscribe(Handle, Utf8.Bytes(dataset), out IntPtr error);
            CairnException.Check(code, error);
        }

        public void Unsubscribe(string dataset)
        {
            int code = Native.cairn_unsubscribe(Handle, Utf8.Bytes(dataset), out IntPtr error);
            CairnException.Check(code, error);
        }

        // A Cognito Sync push payload as JSON; true when it started a sync.
        public bool HandlePush(string json)
        {
            int code = Native.cairn_handle_push_json(Handle, Utf8.Bytes(json), out int started,
                                                     out IntPtr error);
            CairnException.Check(code, error);
            return started != 0;
        }

        // Closes the manager: queued syncs end Cancelled, running ones are waited for, and any
        // sync whose answer can no longer come (its callback was queued for RunPendingCallbacks)
        // ends Cancelled too. Datasets are closed.
        public void Dispose()
        {
            List<Dataset> datasets;
            lock (lock_)
            {
                datasets = new List<Dataset>(datasets_);
                datasets_.Clear();
            }
            handle_.Dispose();
            foreach (var d in datasets) d.CloseHandle();
            List<SyncState> unanswered;
            lock (lock_)
            {
                unanswered = new List<SyncState>(syncs_);
                syncs_.Clear();
            }
            foreach (var s in unanswered)
                s.Finish(new CairnException(ErrorCode.Cancelled, "the manager was disposed"));
        }

        internal ManagerHandle Handle
        {
            get
            {
                if (handle_.IsClosed) throw new ObjectDisposedException(nameof(SyncManager));
                return handle_;
            }
        }

        internal void Started(SyncState s) { lock (lock_) syncs_.Add(s); }
        internal void Ended(SyncState s) { lock (lock_) syncs_.Remove(s); }
        internal void Forget(Dataset d) { lock (lock_) datasets_.Remove(d); }
    }
}
