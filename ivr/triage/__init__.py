"""Clinical triage: caller's words (+ context) -> urgency, department, priority, reasons."""
