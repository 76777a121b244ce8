// The Unity binding under Mono, against a cairn-server on loopback (started by
// tests/capi/run_with_server.py, which passes CAIRN_ENDPOINT, CAIRN_POOL, CAIRN_ADMIN_KEY,
// CAIRN_ADMIN_SECRET and CAIRN_TMPDIR). Each test is a player with devices of their own.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Cairn.Tests
{
    [TestFixture]
    public class BindingTests
    {
        private static string Env(string name)
        {
            string v = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(v)) Assert.Fail(name + " is not set: run through ctest");
            return v;
        }

        private static int dbCount_;
        private static string NewDb() =>
            Path.Combine(Env("CAIRN_TMPDIR"), "device-" + Interlocked.Increment(ref dbCount_) + ".db");

        // A new player's first device, through the Cognito Identity flow.
        private static SyncManager FirstDevice(bool pumped = false) =>
            SyncManager.Open(new SyncManagerOptions
            {
                Endpoint = Env("CAIRN_ENDPOINT"),
                IdentityPoolId = Env("CAIRN_POOL"),
                DatabasePath = NewDb(),
                CallbacksOnRunPendingCallbacks = pumped,
            });

        // Another device of the same player: developer credentials acting on its identity.
        private static SyncManager SecondDevice(string identityId) =>
            SyncManager.Open(new SyncManagerOptions
            {
                Endpoint = Env("CAIRN_ENDPOINT"),
                IdentityPoolId = Env("CAIRN_POOL"),
                DatabasePath = NewDb(),
                AccessKeyId = Env("CAIRN_ADMIN_KEY"),
                SecretAccessKey = Env("CAIRN_ADMIN_SECRET"),
                IdentityId = identityId,
            });

        private static SyncResult Sync(Dataset d, SyncCallbacks cb = null)
        {
            Task<SyncResult> t = d.SynchronizeAsync(cb);
            Assert.IsTrue(t.Wait(TimeSpan.FromSeconds(60)), "the sync did not finish");
            return t.Result;
        }

        private static CairnException SyncFails(Dataset d, SyncCallbacks cb = null)
        {
            Task<SyncResult> t = d.SynchronizeAsync(cb);
            var e = Assert.Throws<AggregateException>(() => t.Wait(TimeSpan.FromSeconds(60)));
            Assert.IsInstanceOf<CairnException>(e.InnerException, e.ToString());
            return (CairnException)e.InnerException;
        }

        [Test]
        public void TwoDevicesOfOnePlayerSyncBothWays()
        {
            using (var a = FirstDevice())
            using (var b = SecondDevice(a.IdentityId))
            {
                Assert.AreEqual(a.IdentityId, b.IdentityId);
                var onA = a.OpenDataset("save");
                onA.Put("level", "7");
                Assert.IsTrue(onA.IsChanged("level"));
                Sync(onA);
                Assert.IsFalse(onA.IsChanged("level"));
                var onB = b.OpenDataset("save");
                Assert.AreEqual(1, Sync(onB).UpdatedRecords);
                Assert.AreEqual("7", onB.Get("level"));
                onB.Put("gold", "120");
                Sync(onB);
                Sync(onA);
                Assert.AreEqual("120", onA.Get("gold"));
                Assert.AreEqual(onA.LastSyncCount, onB.LastSyncCount);
                Assert.AreEqual(0, onA.Status.PendingChanges);
                Assert.AreEqual(ErrorCode.Ok, onA.Status.LastResult);
            }
        }

        // Device a and b both change "hero" from the same base; b syncs second and meets the
        // conflict, which `resolve` decides. Returns b's dataset after the sync and a's after its
        // next one.
        private static Tuple<string, string> Conflict(Func<Conflict, Resolution> resolve)
        {
            using (var a = FirstDevice())
            using (var b = SecondDevice(a.IdentityId))
            {
                var onA = a.OpenDataset("save");
                onA.Put("hero", "{\"hp\":10,\"xp\":0}");
                Sync(onA);
                var onB = b.OpenDataset("save");
                Sync(onB);
                onA.Put("hero", "{\"hp\":5,\"xp\":0}");
                Sync(onA);
                onB.Put("hero", "{\"hp\":10,\"xp\":50}");
                Conflict seen = null;
                Sync(onB, new SyncCallbacks
                {
                    OnConflict = c =>
                    {
                        seen = c;
                        return resolve(c);
                    }
                });
                Assert.IsNotNull(seen, "no conflict reached the callback");
                Assert.AreEqual("hero", seen.Key);
                Assert.AreEqual("{\"hp\":10,\"xp\":50}", seen.LocalValue);
                Assert.AreEqual("{\"hp\":5,\"xp\":0}", seen.RemoteValue);
                Assert.IsTrue(seen.HasBase);
                Assert.AreEqual("{\"hp\":10,\"xp\":0}", seen.BaseValue);
                Sync(onA);
                return Tuple.Create(onB.Get("hero"), onA.Get("hero"));
            }
        }

        // DurableWrites reaches the native options (the power-cut test of its effect is
        // CApiDurableWrites, in C++): a device opened with it writes, reopens and syncs.
        [Test]
        public void ADeviceWithDurableWritesKeepsItsPutsAcrossReopeningAndSyncs()
        {
            string db = NewDb();
            Func<SyncManager> open = () => SyncManager.Open(new SyncManagerOptions
            {
                Endpoint = Env("CAIRN_ENDPOINT"),
                IdentityPoolId = Env("CAIRN_POOL"),
                DatabasePath = db,
                DurableWrites = true,
            });
            using (var a = open()) a.OpenDataset("save").Put("gems", "4");
            using (var a = open())
            {
                var save = a.OpenDataset("save");
                Assert.AreEqual("4", save.Get("gems"));
                Sync(save);
                Assert.IsFalse(save.IsChanged("gems"));
            }
        }

        [Test]
        public void AConflictResolvedRemoteKeepsTheServersValueEverywhere()
        {
            var r = Conflict(c => Resolution.Remote);
            Assert.AreEqual("{\"hp\":5,\"xp\":0}", r.Item1);
            Assert.AreEqual(r.Item1, r.Item2);
        }

        [Test]
        public void AConflictResolvedLocalPushesThisDevicesValue()
        {
            var r = Conflict(c => Resolution.Local);
            Assert.AreEqual("{\"hp\":10,\"xp\":50}", r.Item1);
            Assert.AreEqual(r.Item1, r.Item2);
        }

        [Test]
        public void ACSharpCallbackCanReturnAMergedValue()
        {
            var r = Conflict(c => Resolution.WithValue("{\"hp\":5,\"xp\":50}"));
            Assert.AreEqual("{\"hp\":5,\"xp\":50}", r.Item1);
            Assert.AreEqual(r.Item1, r.Item2);
        }

        [Test]
        public void AConflictResolvedWithNullRemovesTheRecord()
        {
            var r = Conflict(c => Resolution.WithValue(null));
            Assert.IsNull(r.Item1);
            Assert.IsNull(r.Item2);
        }

        [Test]
        public void ACallbackThatThrowsFailsTheSyncWithItsExceptionAndNothingIsPushed()
        {
            using (var a = FirstDevice())
            using (var b = SecondDevice(a.IdentityId))
            {
                var onA = a.OpenDataset("save");
                onA.Put("hero", "a0");
                Sync(onA);
                var onB = b.OpenDataset("save");
                Sync(onB);
                onA.Put("hero", "a1");
                Sync(onA);
                onB.Put("hero", "b1");
                var e = SyncFails(onB, new SyncCallbacks
                {
                    OnConflict = c => throw new InvalidOperationException("the game's bug")
                });
                Assert.AreEqual(ErrorCode.Cancelled, e.Code);
                Assert.IsInstanceOf<InvalidOperationException>(e.InnerException);
                StringAssert.Contains("the game's bug", e.Message);
                Assert.AreEqual("b1", onB.Get("hero"));
                Assert.IsTrue(onB.IsChanged("hero"));
                Sync(onA);
                Assert.AreEqual("a1", onA.Get("hero"), "the failed sync pushed something");
            }
        }

        [Test]
        public void ADatasetDeletedElsewhereReachesTheCallback()
        {
            using (var a = FirstDevice())
            using (var b = SecondDevice(a.IdentityId))
            {
                var onA = a.OpenDataset("save");
                onA.Put("level", "3");
                Sync(onA);
                var onB = b.OpenDataset("save");
                Sync(onB);
                onA.Delete();
                Sync(onA);
                string told = null;
                Sync(onB, new SyncCallbacks
                {
                    OnDatasetDeleted = name =>
                    {
                        told = name;
                        return DeletedDatasetAction.DropLocal;
                    }
                });
                Assert.AreEqual("save", told);
                Assert.IsNull(onB.Get("level"));
            }
        }

        [Test]
        public void ADeletedDatasetCanBeRecreatedFromTheLocalCopy()
        {
            using (var a = FirstDevice())
            using (var b = SecondDevice(a.IdentityId))
            {
                var onA = a.OpenDataset("save");
                onA.Put("level", "3");
                Sync(onA);
                var onB = b.OpenDataset("save");
                Sync(onB);
                onA.Delete();
                Sync(onA);
                Sync(onB, new SyncCallbacks { OnDatasetDeleted = n => DeletedDatasetAction.RecreateFromLocal });
                Assert.AreEqual("3", onB.Get("level"));
                var again = a.OpenDataset("save");
                Sync(again);
                Assert.AreEqual("3", again.Get("level"));
            }
        }

        // The server's developer side, through boto3 (developer_identity.py beside this file).
        private static string Developer(params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("python3")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.Arguments = "\"" + Path.Combine(Env("CAIRN_BINDING_TESTS"), "developer_identity.py") +
                            "\" " + string.Join(" ", args);
            using (var p = System.Diagnostics.Process.Start(psi))
            {
                string output = p.StandardOutput.ReadToEnd();
                string errors = p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.AreEqual(0, p.ExitCode, errors);
                return output.Trim();
            }
        }

        // A device of the player with this developer login, signed in with the server's token.
        private static SyncManager DeveloperDevice(string login)
        {
            string[] idAndToken = Developer("token", login).Split(' ');
            var options = new SyncManagerOptions
            {
                Endpoint = Env("CAIRN_ENDPOINT"),
                IdentityPoolId = Env("CAIRN_POOL"),
                DatabasePath = NewDb(),
            };
            options.Logins["cognito-identity.amazonaws.com"] = idAndToken[1];
            var m = SyncManager.Open(options);
            Assert.AreEqual(idAndToken[0], m.IdentityId);
            return m;
        }

        [Test]
        public void DatasetsMergedFromAnotherIdentityReachTheCallbackAndAreFolded()
        {
            string suffix = Guid.NewGuid().ToString("N").Substring(0, 8);
            using (var alice = DeveloperDevice("alice-" + suffix))
            using (var bob = DeveloperDevice("bob-" + suffix))
            {
                var onAlice = alice.OpenDataset("save");
                onAlice.Put("gold", "10");
                Sync(onAlice);
                var onBob = bob.OpenDataset("save");
                onBob.Put("gems", "4");
                Sync(onBob);
                string bobId = bob.IdentityId;
                Developer("merge", "bob-" + suffix, "alice-" + suffix);
                IList<string> merged = null;
                string into = null;
                Sync(onAlice, new SyncCallbacks
                {
                    OnDatasetsMerged = (name, names) =>
                    {
                        into = name;
                        merged = names;
                        return MergedDatasetsAction.Fold;
                    }
                });
                Assert.AreEqual("save", into);
                CollectionAssert.AreEqual(new[] { "save." + bobId }, merged);
                Assert.AreEqual("10", onAlice.Get("gold"));
                Assert.AreEqual("4", onAlice.Get("gems"));
            }
        }

        [Test]
        public void AnOfflinePutSyncsOnceTheNetworkIsBack()
        {
            using (var a = FirstDevice())
            using (var b = SecondDevice(a.IdentityId))
            {
                var onA = a.OpenDataset("save");
                Sync(onA);
                a.SetNetworkReachable(false);
                onA.Put("offline", "written on the train");
                Assert.AreEqual("written on the train", onA.Get("offline"));
                Assert.AreEqual(1, onA.Status.PendingChanges);
                a.SetNetworkReachable(true);
                Sync(onA);
                Assert.AreEqual(0, onA.Status.PendingChanges);
                var onB = b.OpenDataset("save");
                Sync(onB);
                Assert.AreEqual("written on the train", onB.Get("offline"));
            }
        }

        [Test]
        public void AThousandRecordsAndUnicodeKeysAndValuesRoundTrip()
        {
            using (var a = FirstDevice())
            using (var b = SecondDevice(a.IdentityId))
            {
                var onA = a.OpenDataset("save");
                var entries = new Dictionary<string, string>();
                for (int i = 0; i < 1000; ++i) entries["k" + i.ToString("D4")] = "v" + i;
                entries["héros-🐉"] = "Zoë ✨ naïve café 日本語 🎮";
                onA.PutAll(entries);
                Assert.AreEqual(1001, onA.GetAll().Count);
                long bytes = entries.Sum(e => (long)System.Text.Encoding.UTF8.GetByteCount(e.Key) +
                                              System.Text.Encoding.UTF8.GetByteCount(e.Value));
                Assert.AreEqual(bytes, onA.SizeInBytes);
                Sync(onA);
                var onB = b.OpenDataset("save");
                Assert.AreEqual(1001, Sync(onB).UpdatedRecords);
                var all = onB.GetAll();
                Assert.AreEqual(1001, all.Count);
                Assert.AreEqual("Zoë ✨ naïve café 日本語 🎮", all["héros-🐉"]);
                Assert.AreEqual("v999", onB.Get("k0999"));
                // PutAll with a null value removes its key, in the same transaction.
                onB.PutAll(new Dictionary<string, string> { { "k0000", null }, { "new", "1" } });
                Assert.IsNull(onB.Get("k0000"));
                Assert.AreEqual("1", onB.Get("new"));
            }
        }

        [Test]
        public void CallbacksRunOnTheThreadThatPumpsThem()
        {
            using (var a = FirstDevice())
            using (var b = SecondDevice(a.IdentityId))
            using (var pumped = SyncManager.Open(new SyncManagerOptions
            {
                Endpoint = Env("CAIRN_ENDPOINT"),
                IdentityPoolId = Env("CAIRN_POOL"),
                DatabasePath = NewDb(),
                AccessKeyId = Env("CAIRN_ADMIN_KEY"),
                SecretAccessKey = Env("CAIRN_ADMIN_SECRET"),
                IdentityId = a.IdentityId,
                CallbacksOnRunPendingCallbacks = true,
            }))
            {
                var onA = a.OpenDataset("save");
                onA.Put("hero", "a0");
                Sync(onA);
                var onP = pumped.OpenDataset("save");
                var first = onP.SynchronizeAsync();
                while (!first.IsCompleted) { pumped.RunPendingCallbacks(); Thread.Sleep(5); }
                onA.Put("hero", "a1");
                Sync(onA);
                onP.Put("hero", "p1");
                int mainThread = Thread.CurrentThread.ManagedThreadId;
                int calledOn = -1;
                var t = onP.SynchronizeAsync(new SyncCallbacks
                {
                    OnConflict = c =>
                    {
                        calledOn = Thread.CurrentThread.ManagedThreadId;
                        return Resolution.Local;
                    }
                });
                var until = DateTime.UtcNow.AddSeconds(60);
                while (!t.IsCompleted && DateTime.UtcNow < until)
                {
                    pumped.RunPendingCallbacks();
                    Thread.Sleep(5);
                }
                Assert.IsTrue(t.IsCompleted);
                Assert.AreEqual(mainThread, calledOn);
                Assert.AreEqual("p1", onP.Get("hero"));
            }
        }

        [Test]
        public void ManyCallsAndSyncsThroughForcedCollectionsKeepEverythingAlive()
        {
            using (var a = FirstDevice())
            {
                var d = a.OpenDataset("stress");
                for (int i = 0; i < 10000; ++i)
                {
                    d.Put("k" + (i % 100), "v" + i);
                    Assert.AreEqual("v" + i, d.Get("k" + (i % 100)));
                    if (i % 1000 == 0) { GC.Collect(); GC.WaitForPendingFinalizers(); }
                }
                int handles = System.Diagnostics.Process.GetCurrentProcess().HandleCount;
                for (int i = 0; i < 200; ++i)
                {
                    d.Put("round", i.ToString());
                    Sync(d, new SyncCallbacks { OnConflict = c => Resolution.Local });
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }
                Assert.AreEqual("199", d.Get("round"));
                Assert.AreEqual(0, d.Status.PendingChanges);
                int after = System.Diagnostics.Process.GetCurrentProcess().HandleCount;
                Assert.LessOrEqual(after, handles + 16, "handles grew over 200 syncs");
            }
        }

        [Test]
        public void DisposingWhileASyncIsInFlightEndsItAndNothingCrashes()
        {
            var a = FirstDevice();
            var d = a.OpenDataset("save");
            for (int i = 0; i < 50; ++i) d.Put("k" + i, "v" + i);
            var running = d.SynchronizeAsync();
            var queued = d.SynchronizeAsync();
            a.Dispose();
            foreach (var t in new[] { running, queued })
            {
                try
                {
                    Assert.IsTrue(t.Wait(TimeSpan.FromSeconds(60)));
                }
                catch (AggregateException e)
                {
                    Assert.IsInstanceOf<CairnException>(e.InnerException);
                    Assert.AreEqual(ErrorCode.Cancelled, ((CairnException)e.InnerException).Code);
                }
            }
            Assert.Throws<ObjectDisposedException>(() => d.Put("late", "x"));
            Assert.Throws<ObjectDisposedException>(() => a.OpenDataset("other"));
        }

        [Test]
        public void ErrorsAreTypedWithTheCodeAndMessage()
        {
            using (var a = FirstDevice())
            {
                var e = Assert.Throws<CairnException>(() => a.OpenDataset("no spaces allowed"));
                Assert.AreEqual(ErrorCode.InvalidParameter, e.Code);
                Assert.IsNotEmpty(e.Message);
            }
        }
    }
}
