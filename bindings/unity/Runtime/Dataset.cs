// A dataset: a player's key/value records (a save, settings, progress). Reads and writes are
// local and work offline; SynchronizeAsync exchanges them with the server.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace Cairn
{
    public enum SyncStateKind
    {
        Idle = 0,
        Syncing = 1,
        WaitingForNetwork = 2,
        BackingOff = 3,
    }

    public struct DatasetStatus
    {
        public SyncStateKind State;
        public long PendingChanges;    // records changed here and not yet pushed
        public long LastSyncCount;     // the server's count at the last sync
        public ErrorCode? LastResult;  // null before the first sync in this process
        public long PulledRecords;     // during (or after) the last pull
    }

    public sealed class Dataset : IDisposable
    {
        private readonly SyncManager manager_;
        private readonly DatasetHandle handle_;

        internal Dataset(SyncManager manager, DatasetHandle handle, string name)
        {
            manager_ = manager;
            handle_ = handle;
            Name = name;
        }

        public string Name { get; }

        public void Put(string key, string value)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            if (value == null) throw new ArgumentNullException(nameof(value));
            int code = Native.cairn_put(Handle, Utf8.Bytes(key), Utf8.Bytes(value), out IntPtr error);
            CairnException.Check(code, error);
        }

        // The value, or null when the key has none.
        public string Get(string key)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            int code = Native.cairn_get(Handle, Utf8.Bytes(key), out IntPtr value, out IntPtr error);
            CairnException.Check(code, error);
            return Utf8.Take(value);
        }

        public void Remove(string key)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            int code = Native.cairn_remove(Handle, Utf8.Bytes(key), out IntPtr error);
            CairnException.Check(code, error);
        }

        // Writes every entry in one transaction, all or none; a null value removes its key.
        public void PutAll(IDictionary<string, string> entries)
        {
            if (entries == null) throw new ArgumentNullException(nameof(entries));
            var keys = new IntPtr[entries.Count];
            var values = new IntPtr[entries.Count];
            int i = 0;
            try
            {
                foreach (var e in entries)
                {
                    if (e.Key == null) throw new ArgumentException("a null key", nameof(entries));
                    keys[i] = Utf8.Alloc(e.Key);
                    values[i] = Utf8.Alloc(e.Value);
                    ++i;
                }
                int code = Native.cairn_put_all(Handle, keys, values, (UIntPtr)i, out IntPtr error);
                CairnException.Check(code, error);
            }
            finally
            {
                for (int j = 0; j < i; ++j)
                {
                    Marshal.FreeHGlobal(keys[j]);
                    if (values[j] != IntPtr.Zero) Marshal.FreeHGlobal(values[j]);
                }
            }
        }

        public IDictionary<string, string> GetAll()
        {
            int code = Native.cairn_get_all(Handle, out IntPtr records, out IntPtr error);
            CairnException.Check(code, error);
            var all = new SortedDictionary<string, string>(StringComparer.Ordinal);
            try
            {
                var list = Marshal.PtrToStructure<Native.Records>(records);
                int size = Marshal.SizeOf<Native.Record>();
                for (long i = 0; i < (long)list.Count; ++i)
                {
                    var r = Marshal.PtrToStructure<Native.Record>(
                        new IntPtr(list.Items.ToInt64() + i * size));
                    all[Utf8.Read(r.Key)] = Utf8.Read(r.Value);
                }
            }
            finally
            {
                Native.cairn_records_free(records);
            }
            return all;
        }

        // The UTF-8 bytes of the live keys and values.
        public long SizeInBytes
        {
            get
            {
                int code = Native.cairn_dataset_size_bytes(Handle, out long size, out IntPtr error);
                CairnException.Check(code, error);
                return size;
            }
        }

        // True when the key has a local change not yet pushed.
        public bool IsChanged(string key)
        {
            int code = Native.cairn_is_changed(Handle, Utf8.Bytes(key), out int changed, out IntPtr error);
            CairnException.Check(code, error);
            return changed != 0;
        }

        // Deletes the dataset here; the next sync deletes it on the server.
        public void Delete()
        {
            int code = Native.cairn_dataset_delete(Handle, out IntPtr error);
            CairnException.Check(code, error);
        }

        public long LastSyncCount => Status.LastSyncCount;

        public DatasetStatus Status
        {
            get
            {
                int code = Native.cairn_dataset_status(Handle, out Native.Status s, out IntPtr error);
                CairnException.Check(code, error);
                return new DatasetStatus
                {
                    State = (SyncStateKind)s.State,
                    PendingChanges = s.PendingChanges,
                    LastSyncCount = s.LastSyncCount,
                    LastResult = s.HasLastResult != 0 ? (ErrorCode?)s.LastResult : null,
                    PulledRecords = s.PulledRecords,
                };
            }
        }

        // Pulls, resolves and pushes. The task ends with the result, or faults with a
        // CairnException: the sync's code, or Cancelled when a callback threw (the exception is
        // its InnerException) or the manager was disposed.
        public Task<SyncResult> SynchronizeAsync(SyncCallbacks callbacks = null)
        {
            var state = new SyncState(manager_, callbacks ?? new SyncCallbacks());
            var native = new Native.SyncCallbacks
            {
                OnConflict = callbacks?.OnConflict != null ? SyncState.ConflictPtr : IntPtr.Zero,
                OnDatasetDeleted = callbacks?.OnDatasetDeleted != null ? SyncState.DeletedPtr : IntPtr.Zero,
                OnDatasetsMerged = callbacks?.OnDatasetsMerged != null ? SyncState.MergedPtr : IntPtr.Zero,
                Done = SyncState.DonePtr,
            };
            manager_.Started(state);
            int code = Native.cairn_synchronize_with(Handle, ref native, state.UserData, out IntPtr error);
            if (code != 0)
            {
                string message = Utf8.Take(error);
                state.Finish(new CairnException((ErrorCode)code, message));
            }
            return state.Task;
        }

        public void Dispose()
        {
            manager_.Forget(this);
            CloseHandle();
        }

        internal void CloseHandle() => handle_.Dispose();

        private DatasetHandle Handle
        {
            get
            {
                if (handle_.IsClosed) throw new ObjectDisposedException(nameof(Dataset), Name);
                return handle_;
            }
        }
    }
}
