// Native objects live in SafeHandles: released once, even when the owner forgets Dispose, and
// never while a P/Invoke call is using them.
using System;
using System.Runtime.InteropServices;

namespace Cairn
{
    internal sealed class ManagerHandle : SafeHandle
    {
        internal ManagerHandle(IntPtr manager) : base(IntPtr.Zero, true) { SetHandle(manager); }
        public override bool IsInvalid => handle == IntPtr.Zero;

        // Answers queued syncs with Cancelled and waits for running ones.
        protected override bool ReleaseHandle()
        {
            Native.cairn_manager_close(handle);
            return true;
        }
    }

    internal sealed class DatasetHandle : SafeHandle
    {
        internal DatasetHandle(IntPtr dataset) : base(IntPtr.Zero, true) { SetHandle(dataset); }
        public override bool IsInvalid => handle == IntPtr.Zero;

        protected override bool ReleaseHandle()
        {
            Native.cairn_dataset_close(handle);
            return true;
        }
    }
}

namespace AOT
{
    // Unity's IL2CPP compiles a static method marked with this ahead of time, so that native code
    // may call it. Unity defines it in UnityEngine; elsewhere (Mono, .NET) this stands in.
#if !UNITY_5_3_OR_NEWER
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type) { Type = type; }
        public Type Type { get; }
    }
#endif
}
