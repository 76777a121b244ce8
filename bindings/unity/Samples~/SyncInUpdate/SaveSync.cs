// A MonoBehaviour that keeps the player's save in a cairn dataset: reads and writes are local and
// work offline, a sync runs when asked, and cairn's callbacks (conflicts, the sync's end) run on
// Unity's main thread, pumped from Update.
using System.IO;
using Cairn;
using UnityEngine;

public class SaveSync : MonoBehaviour
{
    public string endpoint = "https://cairn.example.com";  // your cairn-server, or empty for AWS
    public string region = "us-east-1";
    public string identityPoolId = "us-east-1:00000000-0000-0000-0000-000000000000";

    private SyncManager manager_;
    private Dataset save_;

    void Awake()
    {
        manager_ = SyncManager.Open(new SyncManagerOptions
        {
            Endpoint = string.IsNullOrEmpty(endpoint) ? null : endpoint,
            Region = region,
            IdentityPoolId = identityPoolId,
            DatabasePath = Path.Combine(Application.persistentDataPath, "cairn.db"),
            CallbacksOnRunPendingCallbacks = true,  // callbacks run in Update, below
        });
        save_ = manager_.OpenDataset("save");
    }

    void Update()
    {
        manager_.RunPendingCallbacks();
        // The engine polls nothing: tell it when the device goes on or off line.
        manager_.SetNetworkReachable(Application.internetReachability != NetworkReachability.NotReachable);
    }

    public void OnLevelCompleted(int level)
    {
        save_.Put("level", level.ToString());  // local: works offline
        Sync();
    }

    public async void Sync()
    {
        try
        {
            SyncResult result = await save_.SynchronizeAsync(new SyncCallbacks
            {
                // Keep the higher level when two devices disagree.
                OnConflict = c => int.Parse(c.LocalValue ?? "0") >= int.Parse(c.RemoteValue ?? "0")
                                      ? Resolution.Local
                                      : Resolution.Remote,
            });
            Debug.Log("cairn: synced, " + result.UpdatedRecords + " records updated here");
        }
        catch (CairnException e)
        {
            Debug.LogWarning("cairn: sync failed, " + e.Code + ": " + e.Message);
        }
    }

    void OnDestroy()
    {
        manager_?.Dispose();
    }
}
