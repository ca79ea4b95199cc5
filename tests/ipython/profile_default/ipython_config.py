c.HistoryManager.enabled = False
