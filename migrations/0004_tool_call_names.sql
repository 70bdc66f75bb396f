ALTER TABLE `generation_sessions` RENAME COLUMN "ended_at" TO "finished_at";--> statement-breakpoint
ALTER TABLE `generation_tool_calls` RENAME COLUMN "name" TO "tool_name";--> statement-breakpoint
ALTER TABLE `generation_tool_calls` RENAME COLUMN "ended_at" TO "finished_at";--> statement-breakpoint
DROP TABLE `agent_checkpoints`;