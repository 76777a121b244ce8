// A sync's callbacks and result, and the static trampolines native code calls. The trampolines
// are static methods marked for ahead-of-time compilation (IL2CPP), their delegates are held in
// static fields for the life of the process, and each sync's state reaches them as a GCHandle.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace Cairn
{
    public sealed class Conflict
    {
        public string Dataset { get; internal set; }
        public string Key { get; internal set; }
        public string LocalValue { get; internal set; }   // null: removed on this device
        public string RemoteValue { get; internal set; }  // null: removed on the server
        public string BaseValue { get; internal set; }    // the last synced value, if HasBase
        public bool HasBase { get; internal set; }
        public DateTimeOffset LocalModified { get; internal set; }   // device clock
        public DateTimeOffset RemoteModified { get; internal set; }  // server clock
        public TimeSpan ClockSkew { get; internal set; }              // server minus device
    }

    public struct Resolution
    {
        internal int Kind;
        internal string Value;

        public static Resolution Remote => new Resolution { Kind = 0 };
        public static Resolution Local => new Resolution { Kind = 1 };
        // Keeps this value on both sides; null removes the record.
        public static Resolution WithValue(string value) => new Resolution { Kind = 2, Value = value };
    }

    public enum DeletedDatasetAction
    {
        DropLocal = 0,
        RecreateFromLocal = 1,
        Cancel = 2,
    }

    public enum MergedDatasetsAction
    {
        Fold = 0,
        Ignore = 1,
        Cancel = 2,
    }

    public sealed class SyncCallbacks
    {
        // One resolution per conflict. Null: the manager's resolver decides.
        public Func<Conflict, Resolution> OnConflict { get; set; }
        // The server says this dataset was deleted. Null: drop it, or recreate it from the local
        // copy when that holds changes not yet pushed.
        public Func<string, DeletedDatasetAction> OnDatasetDeleted { get; set; }
        // The server merged these datasets into this one (two identities became one). Null: fold.
        public Func<string, IList<string>, MergedDatasetsAction> OnDatasetsMerged { get; set; }
    }

    public struct SyncResult
    {
        public int UpdatedRecords;  // records the sync changed here (pulled or resolved)
    }

    internal sealed class SyncState
    {
        private readonly SyncManager manager_;
        private readonly SyncCallbacks callbacks_;
        private readonly TaskCompletionSource<SyncResult> done_ =
            new TaskCompletionSource<SyncResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        private GCHandle self_;
        private IntPtr resolved_ = IntPtr.Zero;  // the last value handed to cairn, until the next
        private Exception thrown_;

        internal SyncState(SyncManager manager, SyncCallbacks callbacks)
        {
            manager_ = manager;
            callbacks_ = callbacks;
            self_ = GCHandle.Alloc(this);
        }

        internal IntPtr UserData => GCHandle.ToIntPtr(self_);
        internal Task<SyncResult> Task => done_.Task;

        // Ends the sync once; frees what it held.
        internal void Finish(Exception error, int updated = 0)
        {
            lock (this)
            {
                if (!self_.IsAllocated) return;
                self_.Free();
                FreeResolved();
            }
            manager_.Ended(this);
            if (error != null) done_.TrySetException(error);
            else done_.TrySetResult(new SyncResult { UpdatedRecords = updated });
        }

        private void FreeResolved()
        {
            if (resolved_ != IntPtr.Zero) Marshal.FreeHGlobal(resolved_);
            resolved_ = IntPtr.Zero;
        }

        private static SyncState From(IntPtr userData) => (SyncState)GCHandle.FromIntPtr(userData).Target;

        private static readonly Native.ConflictFn ConflictFn = OnConflict;
        private static readonly Native.DatasetDeletedFn DeletedFn = OnDeleted;
        private static readonly Native.DatasetsMergedFn MergedFn = OnMerged;
        private static readonly Native.SyncDoneFn DoneFn = OnDone;
        internal static readonly IntPtr ConflictPtr = Marshal.GetFunctionPointerForDelegate(ConflictFn);
        internal static readonly IntPtr DeletedPtr = Marshal.GetFunctionPointerForDelegate(DeletedFn);
        internal static readonly IntPtr MergedPtr = Marshal.GetFunctionPointerForDelegate(MergedFn);
        internal static readonly IntPtr DonePtr = Marshal.GetFunctionPointerForDelegate(DoneFn);

        private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

        // A callback that throws leaves the sync unresolved (or cancelled), which fails it; the
        // exception becomes the failure's InnerException.
        [AOT.MonoPInvokeCallback(typeof(Native.ConflictFn))]
        private static int OnConflict(IntPtr userData, ref Native.Conflict c, out IntPtr value)
        {
            value = IntPtr.Zero;
            SyncState s = From(userData);
            try
            {
                var conflict = new Conflict
                {
                    Dataset = Utf8.Read(c.Dataset),
                    Key = Utf8.Read(c.Key),
                    LocalValue = Utf8.Read(c.LocalValue),
                    RemoteValue = Utf8.Read(c.RemoteValue),
                    BaseValue = Utf8.Read(c.BaseValue),
                    HasBase = c.HasBase != 0,
                    LocalModified = FromMs(c.LocalModifiedMs),
                    RemoteModified = FromMs(c.RemoteModifiedMs),
                    ClockSkew = TimeSpan.FromMilliseconds(c.ClockSkewMs),
                };
                Resolution r = s.callbacks_.OnConflict(conflict);
                if (r.Kind == 2)
                {
                    // cairn copies the value before this callback returns to it again.
                    lock (s)
                    {
                        s.FreeResolved();
                        s.resolved_ = Utf8.Alloc(r.Value);
                        value = s.resolved_;
                    }
                }
                return r.Kind;
            }
            catch (Exception e)
            {
                s.thrown_ = s.thrown_ ?? e;
                return 3;  // CAIRN_RESOLVE_UNRESOLVED
            }
        }

        [AOT.MonoPInvokeCallback(typeof(Native.DatasetDeletedFn))]
        private static int OnDeleted(IntPtr userData, IntPtr dataset)
        {
            SyncState s = From(userData);
            try
            {
                return (int)s.callbacks_.OnDatasetDeleted(Utf8.Read(dataset));
            }
            catch (Exception e)
            {
                s.thrown_ = s.thrown_ ?? e;
                return (int)DeletedDatasetAction.Cancel;
            }
        }

        [AOT.MonoPInvokeCallback(typeof(Native.DatasetsMergedFn))]
        private static int OnMerged(IntPtr userData, IntPtr dataset, IntPtr merged, UIntPtr count)
        {
            SyncState s = From(userData);
            try
            {
                var names = new List<string>();
                for (long i = 0; i < (long)count; ++i)
                    names.Add(Utf8.Read(Marshal.ReadIntPtr(merged, (int)i * IntPtr.Size)));
                return (int)s.callbacks_.OnDatasetsMerged(Utf8.Read(dataset), names);
            }
            catch (Exception e)
            {
                s.thrown_ = s.thrown_ ?? e;
                return (int)MergedDatasetsAction.Cancel;
            }
        }

        [AOT.MonoPInvokeCallback(typeof(Native.SyncDoneFn))]
        private static void OnDone(IntPtr userData, int code, IntPtr message, UIntPtr updated)
        {
            SyncState s = From(userData);
            if (s.thrown_ != null)
            {
                s.Finish(new CairnException(ErrorCode.Cancelled,
                                            "a sync callback threw: " + s.thrown_.Message, s.thrown_));
            }
            else if (code != 0)
            {
                s.Finish(new CairnException((ErrorCode)code, Utf8.Read(message)));
            }
            else
            {
                s.Finish(null, (int)updated);
            }
        }
    }
}
