CREATE TABLE `app_versions` (
	`project_id` text NOT NULL,
	`version` integer NOT NULL,
	`session_id` text NOT NULL,
	`turn_id` text NOT NULL,
	`files` integer NOT NULL,
	`bytes` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`project_id`, `version`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `blobs` (
	`hash` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `deployment_history` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`slug` text NOT NULL,
	`version` integer,
	`at` integer NOT NULL,
	`by` text NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `deployment_history_project` ON `deployment_history` (`project_id`,`at`);--> statement-breakpoint
CREATE TABLE `deployments` (
	`project_id` text PRIMARY KEY NOT NULL,
	`slug` text NOT NULL,
	`version` integer NOT NULL,
	`published_at` integer NOT NULL,
	`published_by` text NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deployments_slug_unique` ON `deployments` (`slug`);--> statement-breakpoint
CREATE TABLE `version_files` (
	`project_id` text NOT NULL,
	`version` integer NOT NULL,
	`path` text NOT NULL,
	`hash` text NOT NULL,
	`size` integer NOT NULL,
	`content_type` text NOT NULL,
	PRIMARY KEY(`project_id`, `version`, `path`)
);
--> statement-breakpoint
CREATE INDEX `version_files_hash` ON `version_files` (`hash`);