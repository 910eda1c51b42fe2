"""Version 2: a closed case keeps when it closed, `closed_ts` (epoch seconds): the retention job
erases the chat text and media of cases closed more than RETENTION_MONTHS ago (Nghị định
13/2023/NĐ-CP), and counts from it. Cases closed before this version get the time of the last
step of their history with their closing status, else their resolution or last update."""

CLOSED = ["resolved", "not_responsible", "duplicate", "withdrawn"]


def up(db) -> None:
    for case in db.cases.find({"status": {"$in": CLOSED}}):
        if case.get("closed_ts"):
            continue
        steps = [e["ts"] for e in db.case_events.find({"code": case["code"], "status": case["status"]}) if e.get("ts")]
        closed = max(steps, default=None) or case.get("resolved_ts") or case.get("updated_ts") or case.get("created_ts")
        db.cases.update_one({"_id": case["_id"]}, {"$set": {"closed_ts": float(closed)}})
